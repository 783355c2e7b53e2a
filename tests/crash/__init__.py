"""Crash tests: real `rosterjobs worker` processes killed (SIGKILL) or stopped in the middle
of an import or an export, the job finished by another worker, and the outcome compared with
an uninterrupted run of the same job."""
