#!/usr/bin/env python3
"""The example application behind nginx.

GET /        records a visit on the primary, counts the visits on a replica (falling back to the
             primary) and answers which app host and which db host served it, and the id of
             the visit row it wrote (so a client can tell which writes were acknowledged).
GET /health  200 "ok" when the primary answers, 503 otherwise.

Settings come from the environment (systemd's EnvironmentFile /etc/app/app.env): APP_HOST,
APP_PORT, DB_PRIMARY, DB_REPLICAS (comma-separated), DB_NAME, DB_USER, DB_PASSWORD, DB_SSL_CA (the
CA file the db servers' certificates are verified against: every connection uses TLS), and DB_PORT
(optional, default 3306).
Only the standard library and python3-pymysql are used.
"""
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

CONNECT_TIMEOUT = 3
NO_SUCH_TABLE = 1146
CREATE_VISITS = (
    "CREATE TABLE IF NOT EXISTS visits ("
    " id BIGINT AUTO_INCREMENT PRIMARY KEY,"
    " app_host VARCHAR(255) NOT NULL,"
    " at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)
INSERT_VISIT = "INSERT INTO visits (app_host) VALUES (%s)"
# While the primary moves (infra's switchover, or infra db failover), the old one refuses writes
# and the new one takes them a moment before this host is restarted with its address: a write
# goes to the first db host of this host's list that takes it (only the primary does: every other
# is read-only), tried again for this long, waiting longer each round (from 0.1 s, doubling, at
# most 1 s) so that a burst of requests does not take every connection slot of the db hosts.
WRITE_RETRY_SECONDS = 4
# Set on SIGTERM: answers then close their connection, and the process exits once none is open.
STOPPING = threading.Event()


def setting(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"app: the setting {name} is missing (see /etc/app/app.env)")
    return value


PRIMARY = setting("DB_PRIMARY")
REPLICAS = [host for host in setting("DB_REPLICAS", "").split(",") if host]
HOSTNAME = socket.gethostname()
DB_PORT = int(setting("DB_PORT", "3306"))


# At most this many connections from this host to the db hosts at once, as an application's
# connection pool caps them: uncapped, the requests retrying while the primary moved took every
# connection slot of the db servers (MySQL's 151), and the servers refused infra's own connection.
DB_CONNECTION_SLOTS = threading.BoundedSemaphore(16)


@contextlib.contextmanager
def db_connection(host):
    """A TLS connection to `host` within this host's slots, closed (and its slot freed) after use."""
    if not DB_CONNECTION_SLOTS.acquire(timeout=CONNECT_TIMEOUT):
        raise pymysql.err.OperationalError(1040, "every db connection slot of this app host is in use")
    try:
        connection = pymysql.connect(
            host=host,
            port=DB_PORT,
            user=setting("DB_USER"),
            password=setting("DB_PASSWORD"),
            database=setting("DB_NAME"),
            # TLS, verifying that the server's certificate comes from this CA and names `host`.
            ssl={"ca": setting("DB_SSL_CA")},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=CONNECT_TIMEOUT,
            write_timeout=CONNECT_TIMEOUT,
            autocommit=True,
        )
        try:
            yield connection
        finally:
            connection.close()
    finally:
        DB_CONNECTION_SLOTS.release()


# The db host that took this process's last write, tried first: after a switchover, until this
# host is restarted with the new primary's address, every write would otherwise first open a TLS
# connection to the old, read-only one, and under load those extra connections took every slot.
last_writable = PRIMARY


def record_visit():
    """Writes one visit row on the primary (see WRITE_RETRY_SECONDS) and returns its id."""
    global last_writable
    deadline = time.monotonic() + WRITE_RETRY_SECONDS
    pause = 0.1
    while True:
        first = last_writable
        for host in [first] + [h for h in [PRIMARY] + REPLICAS if h != first]:
            try:
                visit = insert_visit(host)
                last_writable = host
                return visit
            # A fault of the statement itself would fail on every host: not tried again.
            except (pymysql.err.ProgrammingError, pymysql.err.DataError, pymysql.err.IntegrityError):
                raise
            # Anything else is this server not taking the write now: read-only (1290), the
            # connection killed (1317 on MySQL, 1927 on MariaDB), every slot taken (1040),
            # unreachable (2003), lost (2013) or cut mid-packet.
            except pymysql.MySQLError as error:
                refused = error
        if time.monotonic() >= deadline:
            raise refused
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def insert_visit(host):
    """Inserts one visit row; creates the table first only when the insert finds none.

    Not CREATE TABLE IF NOT EXISTS before every insert: MySQL writes that statement to its binlog
    even when the table exists, so each visit was two transactions, one a DDL that every replica
    applies alone under an exclusive lock on the table, and connections piled up under load.
    """
    with db_connection(host) as connection, connection.cursor() as cursor:
        try:
            cursor.execute(INSERT_VISIT, (HOSTNAME,))
        except pymysql.err.ProgrammingError as error:
            if not error.args or error.args[0] != NO_SUCH_TABLE:
                raise
            cursor.execute(CREATE_VISITS)
            cursor.execute(INSERT_VISIT, (HOSTNAME,))
        return cursor.lastrowid


def count_visits():
    """Counts on the first replica that answers; the primary when none does.

    Returns (db host, count). A replica that has not yet received the visits table counts 0.
    """
    for host in REPLICAS + [PRIMARY]:
        try:
            with db_connection(host) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT @@hostname")
                served_by = cursor.fetchone()[0]
                try:
                    cursor.execute("SELECT COUNT(*) FROM visits")
                    count = cursor.fetchone()[0]
                except pymysql.err.ProgrammingError:
                    count = 0
                return served_by, count
        except pymysql.MySQLError:
            continue
    raise RuntimeError("no database host answered")


def primary_reachable():
    try:
        with db_connection(PRIMARY):
            return True
    except pymysql.MySQLError:
        return False


class Handler(BaseHTTPRequestHandler):
    server_version = "example-app"
    # Every answer has a Content-Length, so connections can stay open for nginx's upstream keepalive.
    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection ends after this long (nginx lets its own go sooner), so a
    # stopping app waits at most this long for connections that carry no request.
    timeout = 10

    def answer(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if STOPPING.is_set():
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            if primary_reachable():
                self.answer(200, "ok\n")
            else:
                self.answer(503, "primary unreachable\n")
        elif path == "/":
            try:
                visit = record_visit()
                db_host, visits = count_visits()
            except (pymysql.MySQLError, RuntimeError) as error:
                # Logged, so the journal says why this host answered 503.
                sys.stderr.write(f"database error: {error}\n")
                self.answer(503, f"database error: {error}\n")
                return
            body = {"app_host": HOSTNAME, "db_host": db_host, "visits": visits, "visit": visit}
            if "application/json" in self.headers.get("Accept", ""):
                self.answer(200, json.dumps(body) + "\n", "application/json")
            else:
                self.answer(200, f"app host {HOSTNAME}, read from db host {db_host}: {visits} visits\n")
        else:
            self.answer(404, "not found\n")

    def log_message(self, format, *args):
        # The journal adds its own timestamp; the client's address is nginx's X-Real-IP.
        headers = getattr(self, "headers", None)
        client = headers.get("X-Real-IP", self.client_address[0]) if headers else self.client_address[0]
        sys.stderr.write(f"{client} {format % args}\n")


class AppServer(ThreadingHTTPServer):
    # The listen backlog. socketserver's default of 5 drops connections when a burst arrives (the
    # other app host restarting sends this one all the traffic), and nginx then times out connecting.
    request_queue_size = 128


def main():
    address = (setting("APP_HOST"), int(setting("APP_PORT")))
    server = AppServer(address, Handler)
    # A stop (systemctl stop or restart: SIGTERM) stops accepting, then lets every request being
    # answered finish: killed mid-answer, nginx could only cut the client's response short.
    server.daemon_threads = False

    def stop(signum, frame):
        STOPPING.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"app: listening on {address[0]}:{address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()
    # Closes the listening socket, then waits for the connection threads.
    server.server_close()


if __name__ == "__main__":
    main()
