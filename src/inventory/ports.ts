import type { Role } from './model.js';

/**
 * The TCP ports infra's services listen on, in one place so that the firewall, the roles, the
 * graph and `infra validate` (which refuses two services on one port of a host) agree.
 */
export const ROLE_PORTS = {
  haproxyMetrics: 8404,
  nginxExporter: 9113,
  mtail: 3903,
  mysql: 3306,
  mysqldExporter: 9104,
  prometheus: 9090,
  alertmanager: 9093,
} as const;

/** The node exporter, on every host. */
export const NODE_EXPORTER_PORT = 9100;

export interface Listener {
  port: number;
  /** What listens there, as the operator knows it. */
  service: string;
}

/**
 * What each role listens on, beside ssh and the node exporter that every host has and the app's own
 * port (app.port). Only listeners on the host's address or on every address: nginx's loopback
 * listeners never meet the app, which listens on the host's address.
 */
export const ROLE_LISTENERS: Readonly<Record<Role, readonly Listener[]>> = {
  lb: [
    { port: 80, service: 'haproxy (http, on every address)' },
    { port: 443, service: 'haproxy (https, on every address)' },
    { port: ROLE_PORTS.haproxyMetrics, service: 'the haproxy metrics' },
  ],
  web: [
    { port: 443, service: 'nginx (https)' },
    { port: ROLE_PORTS.nginxExporter, service: 'the nginx exporter' },
    { port: ROLE_PORTS.mtail, service: 'mtail (nginx responses by status)' },
  ],
  app: [],
  db: [
    { port: ROLE_PORTS.mysql, service: 'the database server' },
    { port: ROLE_PORTS.mysqldExporter, service: 'the mysqld exporter' },
  ],
  monitor: [
    { port: ROLE_PORTS.prometheus, service: 'Prometheus' },
    { port: ROLE_PORTS.alertmanager, service: 'Alertmanager' },
  ],
};
