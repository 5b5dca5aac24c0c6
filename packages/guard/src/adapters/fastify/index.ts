import type { FastifyPluginCallback } from 'fastify';
import type { Principal } from '../../jwt/principal.js';
import { createGuard, type GuardOptions } from '../create-guard.js';
import { fromIncomingMessage } from '../node/from-incoming-message.js';

export type { GuardOptions } from '../create-guard.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard plugin for authenticated requests. */
    principal: Principal | null;
  }
}

/**
 * Fastify plugin: every request in the registering context is authenticated in `onRequest`,
 * before any body is read. Register it inside a context (or per route prefix) to protect a subset.
 */
const plugin: FastifyPluginCallback<GuardOptions> = (fastify, options, done) => {
  const core = createGuard(options);
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null);
  fastify.addHook('onRequest', async (request, reply) => {
    const guardRequest = fromIncomingMessage(request.raw, request.id);
    try {
      request.principal = await core.authenticate(guardRequest);
    } catch (err) {
      const response = core.refuse(err, guardRequest);
      return (
        reply
          .code(response.status)
          .headers(response.headers as Record<string, string | string[]>)
          // A Buffer, because Fastify appends `; charset=utf-8` to the content type of a string
          // payload, which the other adapters do not send (RFC 8259 §11 defines no charset).
          .send(Buffer.from(response.body, 'utf8'))
      );
    }
    return undefined;
  });
  done();
};

// Same effect as fastify-plugin: the hook applies to the context that registers the plugin.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@gatehouse/guard',
});

export const guardPlugin = plugin;
