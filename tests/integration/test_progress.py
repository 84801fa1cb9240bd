"""Backups and restores show progress (bytes, rate, ETA) on a terminal, and
nothing of it when stderr is not one (scripts, CI)."""
import os
import subprocess

from conftest import MiB, Radiant, write_random_file


def test_progress_only_on_a_terminal(workdir, radiant_bin):
    rad = Radiant(workdir)
    rad.init()
    src = os.path.join(workdir, "src")
    write_random_file(os.path.join(src, "big.bin"), 384 * MiB)
    b = rad.backup(src)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    target = os.path.join(workdir, "out")
    cmd = "%s --config %s repo restore-dir --repo local --backup %s --target %s --threads 1" % (
        radiant_bin, rad.cfg, b["id"], target)
    # script(1) gives the command a terminal
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert "restore: " in proc.stdout and "ETA" in proc.stdout and "of 384.0 MiB" in proc.stdout
    # without a terminal: only the result
    target2 = os.path.join(workdir, "out2")
    plain = subprocess.run([radiant_bin, "--config", rad.cfg, "repo", "restore-dir",
                            "--repo", "local", "--backup", b["id"], "--target", target2],
                           capture_output=True, text=True, env=env, timeout=300)
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
