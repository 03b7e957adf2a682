// The comparison server for `make bench`: node's oidc-provider with the device
// flow on, its default in-memory adapter, one registered public client.
//
//   OIDC_PROVIDER_DIR=<dir holding node_modules/oidc-provider> node oidc-provider.mjs PORT
//
// Listens on 127.0.0.1:PORT only and prints "listening on http://127.0.0.1:PORT"
// once it accepts connections. .ci/bench.sh installs the pinned version.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.OIDC_PROVIDER_DIR;
if (!dir) {
  console.error('set OIDC_PROVIDER_DIR to the directory holding node_modules/oidc-provider');
  process.exit(2);
}
const port = Number(process.argv[2] || 0);
const entry = path.join(dir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(entry).href);

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-cli',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    },
  ],
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: false },
  },
});
// Its dev-mode warnings (no keys, no cookie secrets) are expected here.
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
