import { isGatehouseError } from '@gatehouse/core';
import { z } from 'zod';
import { audit, type AuditInput } from '../audit.js';
import type { AuthServerDeps } from '../context.js';
import type { ClientStore } from '../clients/client-store.js';
import type { KeyCheck, KeyService } from '../keys/key-service.js';
import type { User, UserStore } from '../users/user-store.js';
import {
  clientInputSchema,
  clientView,
  describeIssues,
  keyView,
  toCreateClientInput,
  type ClientView,
  type KeyView,
} from './views.js';

/** Who performs an admin action: the admin API (with its request) or the command line. */
export interface AdminActor {
  readonly via: 'admin-api' | 'cli';
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
  /** The operator whose client certificate authenticated the request (`admin.operators`). */
  readonly operator?: string | undefined;
}

/** An admin request that cannot be carried out; `detail` and `errors` are meant for the operator. */
export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
  readonly status: 400 | 404;
  readonly detail: string;
  readonly errors: readonly string[];
  constructor(status: 400 | 404, detail: string, errors: readonly string[] = []) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
  }
}

export interface UserView {
  readonly sub: string;
  readonly username: string;
  readonly roles: readonly string[];
  readonly name: string | null;
  readonly email: string | null;
  readonly created_at: string;
}

export function userView(user: User): UserView {
  return {
    sub: user.sub,
    username: user.username,
    roles: user.roles,
    name: user.name,
    email: user.email,
    created_at: new Date(user.createdAt).toISOString(),
  };
}

/** A new user as the admin API takes it; the password only ever travels in a request body. */
export const userInputSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  roles: z.array(z.string()).optional(),
  name: z.string().optional(),
  email: z.string().optional(),
});
export type UserInput = z.output<typeof userInputSchema>;

export const rotateInputSchema = z
  .strictObject({
    emergency: z.boolean().default(false),
    kid: z.string().min(1).optional(),
  })
  .refine((input) => input.emergency || input.kid === undefined, {
    error: 'kid is only meaningful with emergency: true',
    path: ['kid'],
  });
export type RotateInput = z.input<typeof rotateInputSchema>;

export type RotationResult =
  | { readonly emergency: false; readonly pending: KeyView }
  | {
      readonly emergency: true;
      readonly revoked_kid: string;
      readonly new_kid: string;
      /** Unexpired access tokens signed by the revoked key; they stop working now. */
      readonly tokens_invalidated: number;
      readonly latest_expiry: string | null;
    };

export interface AdminOperations {
  listClients(actor: AdminActor): Promise<ClientView[]>;
  /** Validates (RFC 7591 names) and registers a client; the secret is returned this once only. */
  createClient(
    input: unknown,
    actor: AdminActor,
  ): Promise<{ client: ClientView; client_secret: string | undefined }>;
  deleteClient(clientId: string, actor: AdminActor): Promise<void>;
  listUsers(actor: AdminActor): Promise<UserView[]>;
  createUser(input: unknown, actor: AdminActor): Promise<UserView>;
  deleteUser(username: string, actor: AdminActor): Promise<void>;
  listKeys(actor: AdminActor): Promise<KeyView[]>;
  rotateKeys(input: unknown, actor: AdminActor): Promise<RotationResult>;
  /** The health of the key set (`gatehouse keys check`); read-only. */
  checkKeys(actor: AdminActor): Promise<KeyCheck>;
}

export interface AdminOperationsDeps {
  readonly deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>;
  readonly clients: ClientStore;
  readonly users: UserStore;
  /** Absent where only clients and users are operated on (no key-encryption key needed). */
  readonly keys?: KeyService | undefined;
}

function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new AdminRequestError(400, `invalid ${what}`, describeIssues(result.error));
  return result.data;
}

/**
 * The operations behind the admin API and the `gatehouse clients|users|keys` commands: one
 * implementation, so both validate the same way and every action (allowed or refused) is audited
 * with who asked. Store validation problems become 400s whose detail is meant for the operator.
 */
export function createAdminOperations({
  deps,
  clients,
  users,
  keys: maybeKeys,
}: AdminOperationsDeps): AdminOperations {
  const keyService = (): KeyService => {
    if (maybeKeys === undefined) throw new Error('admin operations were built without the key service');
    return maybeKeys;
  };

  function record(
    actor: AdminActor,
    input: Omit<AuditInput, 'sourceIp' | 'requestId' | 'details'> & {
      details?: Record<string, string | number | boolean>;
    },
  ): void {
    audit(deps, {
      ...input,
      sourceIp: actor.sourceIp,
      requestId: actor.requestId,
      details: {
        via: actor.via,
        ...(actor.operator === undefined ? {} : { operator: actor.operator }),
        ...input.details,
      },
    });
  }

  /** Runs a store call; its validation errors (ERR_CONFIG_INVALID) are the operator's to read. */
  async function attempt<T>(
    actor: AdminActor,
    action: string,
    target: { type: string; id?: string },
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const rejected = isGatehouseError(err) && err.code === 'ERR_CONFIG_INVALID';
      const reason = err instanceof AdminRequestError || rejected ? 'invalid_request' : 'error';
      record(actor, { action, outcome: 'failure', target, reason });
      if (rejected) throw new AdminRequestError(400, 'request refused', (err.detail ?? '').split('; '));
      throw err;
    }
  }

  return {
    async listClients(actor) {
      const list = await clients.list();
      record(actor, { action: 'admin.client.list', outcome: 'success', target: { type: 'client' } });
      return list.map(clientView);
    },

    async createClient(input, actor) {
      const created = await attempt(actor, 'admin.client.create', { type: 'client' }, async () => {
        const parsed = parse(clientInputSchema, input, 'client');
        return clients.create(toCreateClientInput(parsed));
      });
      record(actor, {
        action: 'admin.client.create',
        outcome: 'success',
        target: { type: 'client', id: created.client.clientId },
        details: { grantTypes: created.client.grantTypes.join(' '), tokenFormat: created.client.tokenFormat },
      });
      return { client: clientView(created.client), client_secret: created.clientSecret };
    },

    async deleteClient(clientId, actor) {
      const target = { type: 'client', id: clientId };
      const deleted = await clients.delete(clientId);
      record(actor, {
        action: 'admin.client.delete',
        outcome: deleted ? 'success' : 'failure',
        target,
        ...(deleted ? {} : { reason: 'not_found' }),
      });
      if (!deleted) throw new AdminRequestError(404, `no client ${clientId}`);
    },

    async listUsers(actor) {
      const list = await users.list();
      record(actor, { action: 'admin.user.list', outcome: 'success', target: { type: 'user' } });
      return list.map(userView);
    },

    async createUser(input, actor) {
      const user = await attempt(actor, 'admin.user.create', { type: 'user' }, async () => {
        const parsed = parse(userInputSchema, input, 'user');
        return users.create({
          username: parsed.username,
          password: parsed.password,
          ...(parsed.roles === undefined ? {} : { roles: parsed.roles }),
          ...(parsed.name === undefined ? {} : { name: parsed.name }),
          ...(parsed.email === undefined ? {} : { email: parsed.email }),
        });
      });
      record(actor, {
        action: 'admin.user.create',
        outcome: 'success',
        target: { type: 'user', id: user.sub },
        details: { roles: user.roles.join(' ') },
      });
      return userView(user);
    },

    async deleteUser(username, actor) {
      // By username (what operators type) or, failing that, by subject identifier.
      const user = (await users.findByUsername(username)) ?? (await users.get(username));
      const deleted = user !== undefined && (await users.delete(user.sub));
      record(actor, {
        action: 'admin.user.delete',
        outcome: deleted ? 'success' : 'failure',
        target: { type: 'user', ...(user === undefined ? {} : { id: user.sub }) },
        ...(deleted ? {} : { reason: 'not_found' }),
      });
      if (!deleted) throw new AdminRequestError(404, `no user ${username}`);
    },

    async listKeys(actor) {
      const list = await keyService().list();
      record(actor, { action: 'admin.key.list', outcome: 'success', target: { type: 'signing_key' } });
      return list.map(keyView);
    },

    async rotateKeys(input, actor) {
      const { emergency, kid } = await attempt(actor, 'admin.key.rotate', { type: 'signing_key' }, () =>
        Promise.resolve(parse(rotateInputSchema, input, 'rotation')),
      );
      if (!emergency) {
        const pending = await keyService().rotate();
        record(actor, {
          action: 'admin.key.rotate',
          outcome: 'success',
          target: { type: 'signing_key', id: pending.kid },
          reason: 'scheduled',
        });
        return { emergency: false, pending: keyView(pending) };
      }
      const target = { type: 'signing_key', ...(kid === undefined ? {} : { id: kid }) };
      const rotation = await attempt(actor, 'admin.key.rotate', target, () =>
        keyService().rotateEmergency(kid),
      );
      record(actor, {
        action: 'admin.key.rotate',
        outcome: 'success',
        target: { type: 'signing_key', id: rotation.revokedKid },
        reason: 'emergency',
        details: { newKid: rotation.newKid, tokensInvalidated: rotation.tokensInvalidated },
      });
      return {
        emergency: true,
        revoked_kid: rotation.revokedKid,
        new_kid: rotation.newKid,
        tokens_invalidated: rotation.tokensInvalidated,
        latest_expiry: rotation.latestExpiry === null ? null : new Date(rotation.latestExpiry).toISOString(),
      };
    },

    async checkKeys(actor) {
      const result = await keyService().check();
      const high = result.findings.filter((finding) => finding.severity === 'high');
      record(actor, {
        action: 'admin.key.check',
        outcome: result.ok ? 'success' : 'failure',
        target: { type: 'signing_key' },
        ...(high[0] === undefined ? {} : { reason: high[0].code }),
        details: { findings: result.findings.length },
      });
      return result;
    },
  };
}
