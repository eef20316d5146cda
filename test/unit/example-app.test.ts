import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_APP_DIR } from './roles-fixture.js';

/*
 * The example app stopping while it answers. A stand-in pymysql module (every connect takes
 * STUB_DELAY seconds) makes a request slow enough to send SIGTERM in its middle, on loopback.
 * The lab proves the app with MariaDB behind nginx (30-stack: a rolling restart under load fails
 * no request).
 */
const STUB_PYMYSQL = `
import os, time
class MySQLError(Exception): pass
class err:
    ProgrammingError = type("ProgrammingError", (MySQLError,), {})
# STUB_LOG: each statement executed, one a line. STUB_NO_TABLE: no visits table until a CREATE TABLE.
TABLE = {"exists": not os.environ.get("STUB_NO_TABLE")}
class _Cursor:
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def execute(self, sql, *a):
        if os.environ.get("STUB_LOG"):
            with open(os.environ["STUB_LOG"], "a") as log: log.write(sql.split("(")[0].strip() + "\\n")
        if sql.startswith("CREATE TABLE"): TABLE["exists"] = True
        elif "visits" in sql and not TABLE["exists"]: raise err.ProgrammingError(1146, "Table 'app.visits' doesn't exist")
    def fetchone(self): return ("db-stub",)
    lastrowid = 1
class _Connection:
    def cursor(self): return _Cursor()
    def close(self): pass
def connect(**kwargs):
    time.sleep(float(os.environ.get("STUB_DELAY", "0")))
    return _Connection()
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let app: ChildProcess | undefined;
afterEach(() => {
  app?.kill('SIGKILL');
  app = undefined;
});

async function startApp(delaySeconds: number, stub: Record<string, string> = {}): Promise<{ port: number; exited: Promise<number | null> }> {
  const stubDir = mkdtempSync(join(tmpdir(), 'infra-app-'));
  writeFileSync(join(stubDir, 'pymysql.py'), STUB_PYMYSQL);
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PYTHONPATH: stubDir,
    STUB_DELAY: String(delaySeconds),
    APP_HOST: '127.0.0.1',
    APP_PORT: String(port),
    DB_PRIMARY: '127.0.0.1',
    DB_REPLICAS: '',
    DB_NAME: 'app',
    DB_USER: 'app',
    DB_PASSWORD: 'stub',
    DB_SSL_CA: '/etc/app/db-ca.crt',
    ...stub,
  };
  const child = spawn('python3', [join(EXAMPLE_APP_DIR, 'app.py')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  app = child;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('listening')) resolve();
    });
    child.on('exit', () => reject(new Error(`the app exited: ${err}`)));
  });
  return { port, exited };
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { Accept: 'application/json' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the example app, stopped by SIGTERM (systemctl stop or restart)', () => {
  it('finishes the request it is answering, then exits 0', async () => {
    // record_visit and count_visits connect once each: the answer takes about 2 × 0.6 s.
    const { port, exited } = await startApp(0.6);
    const answer = get(port);
    await new Promise((r) => setTimeout(r, 300));
    app?.kill('SIGTERM');
    const { status, body } = await answer;
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ db_host: 'db-stub' });
    expect(await exited).toBe(0);
  });

  it('exits at once when it is answering nothing', async () => {
    const { exited } = await startApp(0);
    const stopped = Date.now();
    app?.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(5000);
  });
});

describe('the example app and its visits table', () => {
  it('creates the table only when an insert finds none: no DDL per request (MySQL binlogs CREATE TABLE IF NOT EXISTS even when the table exists)', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'infra-app-log-')), 'statements');
    const { port } = await startApp(0, { STUB_NO_TABLE: '1', STUB_LOG: log });
    for (let i = 0; i < 3; i++) expect((await get(port)).status).toBe(200);
    const written = readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('SELECT') && line !== '');
    expect(written).toEqual(['INSERT INTO visits', 'CREATE TABLE IF NOT EXISTS visits', 'INSERT INTO visits', 'INSERT INTO visits', 'INSERT INTO visits']);
  });
});
