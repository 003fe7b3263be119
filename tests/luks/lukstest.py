# What the Python LUKS tests share: failures collected by check(), a runner
# for a list of test functions on a scratch directory, and WRAP, which under
# the valgrind suite (scripts/test.sh wraps python3 itself) puts the programs
# a test runs under valgrind too.
"""check(cond, what), run_all(prefix, make_env, tests), WRAP."""
import shutil
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def under_valgrind():
    with open("/proc/self/maps") as f:
        return "vgpreload" in f.read()


WRAP = (["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
         "--errors-for-leak-kinds=definite"] if under_valgrind() else [])


def run_all(prefix, make_env, tests):
    """make_env(tmpdir), then each test(env); the exit status of the script."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        env = make_env(tmp)
        for test in tests:
            print("--", test.__name__, flush=True)
            test(env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0
