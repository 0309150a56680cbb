"""Input/output of file formats. Nothing here knows about models."""
