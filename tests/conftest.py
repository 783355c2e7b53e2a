import os

# The test process starts embedded workers (API tests); their reaper must not requeue the
# stale jobs other tests plant on purpose. Processes the tests start get their own settings
# (tests.processes.service_env drops every ROSTERJOBS_* variable of this process).
os.environ.setdefault("ROSTERJOBS_REAP_SECONDS", "3600")

pytest_plugins = ["tests.databases", "tests.s3", "tests.processes"]
