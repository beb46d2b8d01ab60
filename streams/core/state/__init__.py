"""The user's record: what it holds, how events fold into it, the send ledger."""
