import { GatehouseError } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/index.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';

function create(jwksUri: string): unknown {
  return createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri, prewarm: false });
}

// RFC 8414 §2 / RFC 8725 §3.2 want the key set over TLS; plain HTTP only where no network is crossed.
const refused: Array<{ name: string; source: string; uri: string }> = [
  { name: 'plain http to a remote host', source: 'RFC 8414 §2', uri: 'http://example.com/jwks' },
  { name: 'ftp', source: 'RFC 8414 §2', uri: 'ftp://127.0.0.1/jwks' },
  { name: 'file', source: 'RFC 8414 §2', uri: 'file:///etc/jwks.json' },
  { name: 'data URL', source: 'RFC 8414 §2', uri: 'data:application/json,{"keys":[]}' },
  { name: 'not a URL', source: 'RFC 3986 §4.3', uri: 'example.com/jwks' },
  { name: 'loopback look-alike host', source: 'RFC 6761 §6.3', uri: 'http://127.0.0.1.example.com/jwks' },
  { name: 'localhost look-alike host', source: 'RFC 6761 §6.3', uri: 'http://localhost.example.com/jwks' },
  { name: 'loopback as userinfo', source: 'RFC 3986 §3.2.1', uri: 'http://127.0.0.1@example.com/jwks' },
  { name: 'unspecified address', source: 'RFC 8414 §2', uri: 'http://0.0.0.0/jwks' },
];

const accepted: Array<{ name: string; uri: string }> = [
  { name: 'https', uri: 'https://auth.example.com/.well-known/jwks.json' },
  { name: 'http on 127.0.0.1', uri: 'http://127.0.0.1:8080/jwks' },
  { name: 'http on another 127/8 address', uri: 'http://127.0.0.2/jwks' },
  { name: 'http on localhost', uri: 'http://localhost:8080/jwks' },
  { name: 'http on [::1]', uri: 'http://[::1]:8080/jwks' },
];

describe('createVerifier — jwksUri must be https except on loopback', () => {
  it.each(refused)('refuses $name ($source) with ERR_CONFIG_INVALID', ({ uri }) => {
    let error: unknown;
    try {
      create(uri);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });

  it.each(accepted)('accepts $name', ({ uri }) => {
    expect(create(uri)).toMatchObject({ algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'] });
  });
});
