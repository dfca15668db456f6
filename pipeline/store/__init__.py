"""Persistence of the output folder: JSONL files written atomically, the resumable journal,
the folder lock, and the one object that knows where every artifact lives.  Nothing here
knows about stages."""
