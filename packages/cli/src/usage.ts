export const USAGE = `Usage: gatehouse <command> [options]

Demo stack (development only; refused with NODE_ENV=production)
  up [--config STACK_FILE] [--data-dir DIR] [--port-base N] [--tls]
                                          auth server, gateway, BFF and demo services, each its own
                                          process; Ctrl-C stops them all (STACK_FILE default
                                          examples/demo/gatehouse.yaml, data dir .gatehouse/)
  init [--config STACK_FILE] [--data-dir DIR] [--port-base N] [--tls] [--json]
                                          data dir, dev CA and certificates, demo clients and users,
                                          demo.json and the deployment file, without starting anything

Development certificates (the dev CA in <dataDir>/pki; issue and renew refused with NODE_ENV=production)
  certs issue NAME (--dns D | --ip I | --uri U) ... [--usage server|client|both] [--days N]
              [--force] [--json]          NAME.pem and NAME-key.pem (0600) signed by the CA, created
                                          if missing; --days default 30, at most 397
  certs list [--within DAYS] [--json]     every certificate there, the CA too; exits non-zero when
                                          one is expired or expires within DAYS (default 14)
  certs renew NAME ...|--all [--within DAYS] [--days N] [--json]
                                          same subject, SANs and usage, a new key (--days default: the
                                          old lifetime), files replaced atomically (--all --within 14:
                                          only those expiring)
  (--data-dir DIR, or the data dir of the stack file: --config STACK_FILE, as init)

Components
  auth-server --config FILE [--data-dir DIR]   run the OAuth 2.1 / OpenID Connect server and its admin API
  gateway --config FILE [--data-dir DIR]       run the API gateway and its admin API (SIGHUP reloads the file)
  bff --config FILE [--data-dir DIR]           run the Backend-for-Frontend (sessions, cookies, token relay)

Operations (directly on the stores of the configured data dir or DATABASE_URL; no server needed)
  clients create --name N --grant G [--grant G ...] [--scope "a b"] [--token-format opaque|jwt]
                 [--redirect-uri U ...] [--post-logout-redirect-uri U ...] [--resource R ...]
                 [--auth-method client_secret_basic|client_secret_post|private_key_jwt|none|
                                tls_client_auth|self_signed_tls_client_auth]
                 [--tls-subject-dn DN | --tls-san-dns D | --tls-san-uri U | --tls-san-ip I |
                  --tls-san-email E (tls_client_auth)] [--bound-tokens (RFC 8705 §3)]
                 [--jwks FILE (public keys for private_key_jwt)]
                 [--public] [--first-party] [--introspect] [--require-par] [--json]
                                          prints the client secret once
  clients list [--json]                   never shows secrets or their hashes
  clients delete CLIENT_ID
  users create --username U [--role R ...] [--name N] [--email E] [--json]
                                          the password is read from standard input, never from argv
  users list [--json]
  users delete USERNAME
  keys list [--json]                      signing keys and their lifecycle
  keys rotate [--emergency [--kid KID]] [--json]
                                          start a rotation; --emergency revokes a compromised key now
  keys check [--json]                     exits non-zero on a stale, expiring or unpublished key
  bans list [--json]                      active bans (IPs and CIDR blocks)
  bans add IP|CIDR --duration 15m|2h|7d [--reason R] [--json]
                                          running gateways apply it within a second
  bans remove IP|CIDR
  reroutes list [--json]                  routes alerts switched to their fallbackUpstream
  reroutes remove ROUTE                   back to its upstream (silence the alert first)
  audit verify [--json]                   checks the audit store's hash chain and signed checkpoints:
                                          "ok, N records, M checkpoints", or the first problem (seq,
                                          kind, detail) and exit 1; reads the store only
  audit export [--from ISO] [--to ISO]    the audit records as ECS JSON lines ([from, to) by time)
  audit prune --before 90d|DATE|ISO (--dry-run | --yes) [--json]
                                          removes the records written before then, through the newest
                                          signed checkpoint before it (never past a sink's cursor),
                                          recorded as a signed audit.prune record; --yes is required
  report access --subject SUB [--from ISO] [--to ISO] [--format json|csv|html]
                                          every access by or about one data subject (GDPR Art. 15)
  report incidents [--from ISO] [--to ISO] [--format json|csv|html]
                                          detections, alerts and their actions, bans, lockouts, token
                                          reuse and key rotations of a period
  migrate [--contract] [--json]           every component's schema migrations (each component also runs
                                          them at start); contract migrations (drops, renames) wait for
                                          --contract, given once every instance runs this version
                                          (docs/upgrades.md)
  config validate [--config FILE] [--json]
                                          lists every problem; non-zero when invalid
  config schema                           JSON Schema of the configuration file
  doctor [--config FILE|STACK_FILE] [--data-dir DIR] [--within-days N] [--json]
                                          configuration, key-encryption key, signing keys, every TLS
                                          file and the dev CA's pki; certificates expiring within N
                                          days (default 14) warn; non-zero on a high-severity finding

Every command that opens stores takes --config FILE (default gatehouse.yaml) and --data-dir DIR.
Environment: DATABASE_URL, REDIS_URL, GATEHOUSE_KEK, NODE_ENV=production (refuses unsafe settings).
Exit codes: 0 success, 1 failure or high-severity finding, 2 usage error.
`;
