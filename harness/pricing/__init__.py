"""What an hour of each host costs and what a unit of work costs on it."""
