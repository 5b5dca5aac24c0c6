import type { AuditKeyResolver, AuditSigner, AuditStore } from '@gatehouse/audit';
import { readVerificationKey, type AuthServerStores } from '@gatehouse/auth-server';
import type { Logger } from '@gatehouse/core';

export interface AuditCheckpointer {
  /** Signs a checkpoint now when the head moved since the latest one. */
  checkpoint(): Promise<void>;
  /** Stops the timer, then signs a last checkpoint (shutdown). */
  stop(): Promise<void>;
}

/**
 * Signs a checkpoint of the audit store head every `intervalSec` when it advanced, with the auth
 * server's signing key (`KeyService.sign` is the store's signer). Several instances may do it at
 * once: a checkpoint of a head already signed is the existing one.
 */
export function startAuditCheckpoints(options: {
  readonly store: AuditStore;
  readonly signer: AuditSigner;
  readonly intervalSec: number;
  readonly logger: Logger;
}): AuditCheckpointer {
  const { store, signer, logger } = options;
  let running: Promise<void> | undefined;

  async function once(): Promise<void> {
    const [head, latest] = await Promise.all([store.headSeq(), store.latestCheckpoint()]);
    if (head === 0 || latest?.seq === head) return;
    const signed = await store.checkpoint(signer);
    if (signed !== undefined) logger.debug({ seq: signed.seq, kid: signed.kid }, 'audit checkpoint signed');
  }

  function checkpoint(): Promise<void> {
    running ??= once()
      .catch((err: unknown) => {
        logger.error({ err }, 'audit checkpoint failed');
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => void checkpoint(), options.intervalSec * 1000);
  timer.unref();
  return {
    checkpoint,
    async stop() {
      clearInterval(timer);
      await running;
      await checkpoint();
    },
  };
}

/**
 * The verifier's key lookup: the public JWK of any kid that ever signed (retired keys included). A
 * key revoked as compromised is trusted only for checkpoints created — and signed — before its
 * revocation: whoever holds a compromised key could sign a checkpoint over a rewritten log.
 */
export function createCheckpointKeyResolver(db: AuthServerStores['db']): AuditKeyResolver {
  return async (kid, checkpoint) => {
    const key = await readVerificationKey(db, kid);
    if (key === undefined) return undefined;
    if (key.revokedAt !== null) {
      if (checkpoint === undefined) return undefined;
      if (checkpoint.createdAt >= key.revokedAt) return undefined;
      if (checkpoint.signedAt === undefined || checkpoint.signedAt >= key.revokedAt) return undefined;
    }
    return key.jwk;
  };
}
