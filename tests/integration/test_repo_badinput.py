"""Bad input gets a clear one-line message and the documented exit code
(docs/cli.md): unknown flags and commands, missing or invalid configuration,
unreadable source files, missing repository, init twice, unknown backup ids."""
import json
import os
import pwd
import shutil
import subprocess

import pytest

from conftest import (BIN, EXIT_CONFIG, EXIT_EXISTS, EXIT_NOT_FOUND, EXIT_USAGE, MiB, Radiant,
                      assert_same_tree, dir_listing, make_special_tree, parse_error_line,
                      tree_digest, write_file, write_random_file)

COMMANDS = {
    "init": [],
    "backup-dir": ["--path", "/tmp"],
    "backup-tar": [],
    "restore-dir": ["--backup", "latest", "--target", "/nonexistent-target"],
    "dump": ["--backup", "latest"],
    "list": [],
    "stats": [],
    "check": [],
    "forget": ["--backup", "latest"],
    "prune": [],
    "change-passphrase": ["--new-passphrase-file", "/nonexistent"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_flag(rad, command):
    args = COMMANDS[command] + ["--no-such-flag"]
    rc, _, err = rad.repo(command, *args, expect_exit=EXIT_USAGE, input=b"")
    assert "--no-such-flag" in err, err


def test_unknown_flag_with_value(rad):
    rc, _, err = rad.repo("list", "--colour=blue", expect_exit=EXIT_USAGE)
    assert "--colour" in err, err


@pytest.mark.parametrize("argv,needle", [
    (["repo", "frobnicate"], "frobnicate"),
    (["frobnicate", "list"], "frobnicate"),
    (["repo"], "repo"),
    (["--no-such-global", "repo", "list"], "--no-such-global"),
])
def test_unknown_command(rad, argv, needle):
    rc, _, err = rad.run(argv, expect_exit=EXIT_USAGE)
    assert needle in err, err


@pytest.mark.parametrize("args,needle", [
    (["backup-dir"], "--path"),
    (["restore-dir", "--backup", "latest"], "--target"),
    (["restore-dir", "--target", "/tmp/x"], "--backup"),
    (["forget"], "--backup"),
    (["change-passphrase"], "--new-passphrase-file"),
    (["backup-dir", "--path", "/tmp", "--threads", "many"], "--threads"),
    (["backup-dir", "--path", "/tmp", "--threads", "0"], "--threads"),
    (["backup-dir", "--path", "/tmp", "--threads"], "--threads"),
])
def test_missing_or_bad_argument(rad, args, needle):
    rc, _, err = rad.run(["repo", args[0], "--repo", rad.name] + args[1:], expect_exit=EXIT_USAGE)
    assert needle in err, err


def test_missing_repo_option_or_unknown_repo(rad):
    rc, _, err = rad.run(["repo", "list", "--repo", "nosuch"], ok=False)
    assert rc in (EXIT_CONFIG, EXIT_NOT_FOUND), err
    assert "nosuch" in err


def test_missing_config_file(workdir, radiant_bin):
    missing = os.path.join(workdir, "no", "such.conf")
    p = subprocess.run([BIN, "--config", missing, "--output", "json", "repo", "list",
                        "--repo", "local"], capture_output=True)
    assert p.returncode == EXIT_CONFIG, p
    assert p.stdout == b""
    err = parse_error_line(p.stderr.decode(), EXIT_CONFIG)
    assert missing in err["message"]


def test_config_from_environment(rad, workdir):
    """$RADIANT_CONFIG is used when --config is not given."""
    env = dict(os.environ, RADIANT_CONFIG=rad.cfg)
    p = subprocess.run([BIN, "--output", "json", "repo", "list", "--repo", rad.name],
                       capture_output=True, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["backups"] == []


BAD_CONFIGS = [
    # (text, line, key or fragment that the message must name)
    ("[radiant]\nstate-dir = {state}\n\n[repo local]\ntype = posix\npath = {repo}\n"
     "colour = blue\n", 7, "colour"),
    ("[radiant]\nstate-dir = {state}\n\n[repo local]\ntype = ftp\npath = {repo}\n", 5, "type"),
    ("[radiant]\nstate-dir = {state}\n[repo local]\ntype = posix\npath = {repo}\n"
     "compress-level = 99\n", 6, "compress-level"),
    ("[radiant]\nstate-dir = {state}\nthis line is not ini\n", 3, None),
    ("[radiant]\nstate-dir = {state}\n[repo local]\ntype = posix\n", 3, "path"),
    ("[radiant]\nstate-dir = {state}\n[repository local]\npath = {repo}\n", 3, "repository"),
]


@pytest.mark.parametrize("text,line,key", BAD_CONFIGS)
def test_invalid_config(workdir, radiant_bin, text, line, key):
    cfg = os.path.join(workdir, "bad.conf")
    write_file(cfg, text.format(state=os.path.join(workdir, "state"),
                                repo=os.path.join(workdir, "repo")).encode())
    p = subprocess.run([BIN, "--config", cfg, "--output", "json", "repo", "init",
                        "--repo", "local"], capture_output=True)
    assert p.returncode == EXIT_CONFIG, p
    err = parse_error_line(p.stderr.decode(), EXIT_CONFIG)
    assert f"{cfg}:{line}" in err["message"], err
    if key:
        assert key in err["message"], err
    assert not os.path.exists(os.path.join(workdir, "repo")), "init ran with a bad config"


def test_missing_repository(workdir, radiant_bin):
    rad = Radiant(workdir)
    src = make_special_tree(os.path.join(workdir, "src"))
    for cmd in (["list"], ["stats"], ["check"], ["prune"], ["backup-dir", "--path", src],
                ["restore-dir", "--backup", "latest", "--target", os.path.join(workdir, "t")]):
        rc, _, err = rad.repo(*cmd, expect_exit=EXIT_NOT_FOUND)
        assert rad.repo_path in err, f"repo {cmd[0]}: message does not name the location: {err}"
    assert not os.path.exists(rad.repo_path), "a command created the missing repository"
    # an empty directory is not a repository either
    os.makedirs(rad.repo_path)
    rad.repo("list", expect_exit=EXIT_NOT_FOUND)


def test_init_twice(rad, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    b = rad.backup(src)
    before = dir_listing(rad.repo_path, with_hash=True)
    rc, _, err = rad.repo("init", expect_exit=EXIT_EXISTS)
    assert rad.repo_path in err, err
    assert dir_listing(rad.repo_path, with_hash=True) == before
    assert [x["id"] for x in rad.list()] == [b["id"]]


def test_init_over_non_empty_directory(workdir, radiant_bin):
    """A directory with other files in it: init may refuse (exit 10) or make the
    repository beside them, but must never lose what was there."""
    rad = Radiant(workdir)
    write_file(os.path.join(rad.repo_path, "precious.txt"), b"not a repository\n")
    rc, _, err = rad.repo("init", ok=None)
    assert rc in (0, EXIT_EXISTS), err
    with open(os.path.join(rad.repo_path, "precious.txt"), "rb") as f:
        assert f.read() == b"not a repository\n"
    if rc == EXIT_EXISTS:
        assert os.listdir(rad.repo_path) == ["precious.txt"]


def test_unknown_backup_id(rad, workdir):
    target = os.path.join(workdir, "t")
    rad.repo("restore-dir", "--backup", "latest", "--target", target, expect_exit=EXIT_NOT_FOUND)
    src = make_special_tree(os.path.join(workdir, "src"))
    b = rad.backup(src)
    for bad in ("0" * 64, "ffffffffffff", "not-an-id"):
        if b["id"].startswith(bad):
            continue
        rc, _, err = rad.repo("restore-dir", "--backup", bad, "--target", target,
                              expect_exit=EXIT_NOT_FOUND)
        assert bad in err, err
        rad.repo("forget", "--backup", bad, expect_exit=EXIT_NOT_FOUND)
        rad.repo("dump", "--backup", bad, expect_exit=EXIT_NOT_FOUND)
    assert not os.path.exists(target) or os.listdir(target) == []
    assert [x["id"] for x in rad.list()] == [b["id"]]


# ----------------------------------------------------------- unreadable files --

@pytest.fixture
def as_postgres(workdir, radiant_bin):
    """A Radiant whose commands run as the unprivileged `postgres` user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")
    if not shutil.which("runuser"):
        pytest.skip("no runuser")
    bindir = os.path.join(workdir, "bin")
    os.makedirs(bindir)
    binary = os.path.join(bindir, "radiant")
    shutil.copy2(BIN, binary)
    os.chmod(binary, 0o755)
    rad = Radiant(workdir, binary=binary)
    os.chmod(workdir, 0o755)
    for dirpath, dirnames, filenames in os.walk(workdir):
        for n in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
            os.chown(n, pw.pw_uid, pw.pw_gid)
    prefix = ["runuser", "-u", "postgres", "--"]
    orig_run = rad.run

    def run(args, **kw):
        kw.setdefault("prefix", prefix)
        return orig_run(args, **kw)
    rad.run = run
    rad.chown = lambda p: subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", p],
                                         check=True)
    rad.init()
    return rad


def test_unreadable_file(as_postgres, workdir):
    rad = as_postgres
    src = os.path.join(workdir, "src")
    make_special_tree(src)
    write_random_file(os.path.join(src, "data.bin"), MiB)
    write_file(os.path.join(src, "sub", "secret.key"), b"top secret\n")
    # the special tree has a mode 0000 file too; make it readable for this test
    os.chmod(os.path.join(src, "modes", "none-0000"), 0o644)
    os.chmod(os.path.join(src, "modes", "private-0700"), 0o755)
    rad.chown(src)
    os.chmod(os.path.join(src, "sub", "secret.key"), 0o000)
    expected = tree_digest(src)
    del expected[os.path.join("sub", "secret.key")]

    rc, _, err = rad.repo("backup-dir", "--path", src, ok=False)
    assert "secret.key" in err, f"the error does not name the unreadable file: {err}"
    assert rad.list() == [], "a failed backup left a backup behind"

    rc, doc, err = rad.repo("backup-dir", "--path", src, "--skip-unreadable")
    assert "secret.key" in err, f"no warning naming the skipped file: {err!r}"
    b = doc["backup"]
    target = os.path.join(workdir, "restore")
    os.makedirs(target)
    rad.chown(target)
    rad.restore(b["id"], target)
    got = tree_digest(target)
    assert_same_tree(expected, got)


def test_unreadable_directory(as_postgres, workdir):
    rad = as_postgres
    src = os.path.join(workdir, "src")
    write_file(os.path.join(src, "ok.txt"), b"fine\n")
    write_file(os.path.join(src, "closed", "inside.txt"), b"cannot be listed\n")
    rad.chown(src)
    os.chmod(os.path.join(src, "closed"), 0o000)
    rc, _, err = rad.repo("backup-dir", "--path", src, ok=False)
    assert "closed" in err, err
    rc, doc, err = rad.repo("backup-dir", "--path", src, "--skip-unreadable")
    assert "closed" in err, err
    assert doc["backup"]["files"] == 1
