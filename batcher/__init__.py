"""batcher: a spreadsheet of phone numbers in, a voice-broadcast campaign out."""

__version__ = "0.1.0"
