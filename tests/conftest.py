pytest_plugins = ["tests.databases", "tests.s3", "tests.processes"]
