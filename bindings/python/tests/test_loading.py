# SPDX-License-Identifier: MIT
"""How the binding finds the library and how the library finds plugins:
each case in a fresh interpreter, since the library is loaded once."""
import os
import subprocess
import sys

import acp_storage


def python(code, **env_changes):
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


LIBRARY = acp_storage.library()._name
PLUGINS = os.environ.get("ACP_STORAGE_PLUGIN_PATH", "")


def test_explicit_library_path_is_used_and_a_bad_one_reported():
    r = python("import acp_storage\nacp_storage.Store('memory:')",
               ACP_STORAGE_LIBRARY="/nonexistent/libacp_storage.so.0")
    assert r.returncode != 0
    assert "acp_storage.errors.LoadError" in r.stderr
    assert "/nonexistent/libacp_storage.so.0" in r.stderr


def test_without_the_variable_the_dynamic_loader_finds_the_soname():
    r = python("import acp_storage\nprint(acp_storage.library()._name, acp_storage.version())",
               ACP_STORAGE_LIBRARY=None, LD_LIBRARY_PATH=os.path.dirname(LIBRARY))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "libacp_storage.so.0"
    assert r.stdout.split()[1] == acp_storage.version()


def test_plugins_come_from_ACP_STORAGE_PLUGIN_PATH_as_the_library_reads_it(tmp_path):
    code = ("import acp_storage\n"
            "try:\n    acp_storage.Store('memory:')\n"
            "except acp_storage.LoadError as e:\n    print('LOAD', e)\n"
            "else:\n    print('OPEN')\n")
    assert python(code).stdout.startswith("OPEN")
    r = python(code, ACP_STORAGE_PLUGIN_PATH=str(tmp_path))
    assert r.stdout.startswith("LOAD") and str(tmp_path) in r.stdout, r.stdout + r.stderr


def test_plugin_dirs_argument_adds_a_directory(tmp_path):
    code = ("import acp_storage, sys\n"
            "with acp_storage.Store('memory:', plugin_dirs=sys.argv[1:]) as s:\n"
            "    print(s.backend)\n")
    env = dict(os.environ, ACP_STORAGE_PLUGIN_PATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code] + PLUGINS.split(":")[:1], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "memory"


def test_no_uri_means_ACP_STORAGE_URL():
    code = "import acp_storage\nwith acp_storage.Store() as s:\n    print(s.backend)"
    assert python(code, ACP_STORAGE_URL="memory:").stdout.strip() == "memory"
    r = python(code, ACP_STORAGE_URL=None)
    assert "acp_storage.errors.Invalid" in r.stderr
