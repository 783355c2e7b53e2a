"""Service faults in the middle of a job: Redis restarted, Postgres backends killed or the
database unreachable, object storage answering errors or gone; each job ends in a clear state."""
