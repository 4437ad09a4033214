"""What a worker imports to time a case: no pandas, scipy or rich here."""
