"""Starts distcc 3.4's include server with the fix for Python >= 3.10.

distcc 3.4's C helper parses "s#" arguments without PY_SSIZE_T_CLEAN, so under Python 3.10
and later its first request raises SystemError, the include server answers "gave up" and
exits, and every job silently runs in plain mode. Before the include server imports them,
the three helpers that take "s#" are replaced by pure-Python equivalents (LZO1X-1 without a
header, from python3-lzo: the same bytes the C helper makes, including its UTF-8 re-encoding
of the text it was handed). distcc's own HEAD fixes this (PR #479, unreleased).
"""
import os
import runpy
import sys

SERVER_DIR = "/usr/lib/python3/dist-packages/include_server"
sys.path.insert(0, SERVER_DIR)

import distcc_pump_c_extensions as helpers  # noqa: E402
import lzo  # noqa: E402


def compress_lzo1x_alloc(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return lzo.compress(data, 1, False)


helpers.OsPathExists = os.path.exists
helpers.OsPathIsFile = os.path.isfile
helpers.CompressLzo1xAlloc = compress_lzo1x_alloc

sys.argv[0] = os.path.join(SERVER_DIR, "include_server.py")
runpy.run_path(sys.argv[0], run_name="__main__")
