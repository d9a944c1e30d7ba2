"""A throw-away PostgreSQL server for tests: Debian's postgresql, an unprivileged cluster in a temp
folder, listening on 127.0.0.1 only, with a password (scram-sha-256) like a real deployment.

Run as root (CI, containers), the cluster belongs to the unprivileged user `nobody` (PostgreSQL
refuses to run as root): initdb and pg_ctl run through `runuser -u nobody`, in a folder it owns.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def server_bin():
    """The newest installed PostgreSQL server's bin folder (off PATH on Debian)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin: run `make system` "
                           "(it installs the Debian package postgresql)")
    return os.path.dirname(found[-1])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, password="grader-test-pw", user="grader", database="grnn"):
        self.bin = server_bin()
        self.user, self.password, self.database = user, password, database
        self.dir = tempfile.mkdtemp(prefix="grnn-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.as_user = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["runuser", "-u", "nobody", "--"]
            self._owner = (nobody.pw_uid, nobody.pw_gid)
        else:
            self._owner = None

    def _run(self, *cmd, timeout=180):
        return subprocess.run(self.as_user + list(cmd), capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir, stdin=subprocess.DEVNULL)

    def start(self):
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self._owner:
            os.chown(pwfile, *self._owner)
        r = self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user,
                      "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        os.remove(pwfile)
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.dir} -c fsync=off -c max_connections=50")
        r = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l",
                      os.path.join(self.dir, "server.log"), "-w", "-t", "120", "-o", opts, "start")
        if r.returncode:
            raise RuntimeError(f"pg_ctl start failed: {r.stdout[-2000:]}{r.stderr[-2000:]}"
                               + self.log_tail())
        import psycopg2
        deadline = time.time() + 60
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user,
                                        password=self.password, dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.database}"')
        conn.close()
        return self

    @property
    def url(self):
        return (f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/"
                f"{self.database}")

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if os.path.isdir(self.data):
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                      "-w", "stop", timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
