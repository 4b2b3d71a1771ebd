// The OCI TypeScript SDK (oci-functions, oci-common from npm) invoking a function on fngate.
// Usage: node invoke.js TENANCY USER FINGERPRINT KEY_FILE ENDPOINT FUNCTION_ID
const common = require("oci-common");
const functions = require("oci-functions");
const fs = require("fs");

const [, , tenancy, user, fingerprint, keyFile, endpoint, functionId] = process.argv;
(async () => {
  const provider = new common.SimpleAuthenticationDetailsProvider(
    tenancy, user, fingerprint, fs.readFileSync(keyFile, "utf8"), null, common.Region.US_ASHBURN_1);
  const client = new functions.FunctionsInvokeClient({ authenticationDetailsProvider: provider });
  client.endpoint = endpoint;
  const response = await client.invokeFunction({
    functionId, invokeFunctionBody: JSON.stringify({ name: "TS" }) });
  const chunks = [];
  for await (const chunk of response.value) chunks.push(Buffer.from(chunk));
  console.log(JSON.stringify({ body: Buffer.concat(chunks).toString(), requestId: response.opcRequestId }));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
