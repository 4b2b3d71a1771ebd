"""The OCI Python SDK against fngate: management, invoke (sync and detached), API Gateway.

Usage: sdk.py CONFIG ENDPOINT APPLICATION_ID FUNCTION_ID
Prints one JSON object of what the SDK saw; the Rust test asserts on it.
"""
import json
import sys

import oci

config_file, endpoint, app_id, fn_id = sys.argv[1:5]
config = oci.config.from_file(config_file)
tenancy = config["tenancy"]
out = {}

fm = oci.functions.FunctionsManagementClient(config, service_endpoint=endpoint)
out["apps"] = [a.display_name for a in fm.list_applications(tenancy).data]
out["app"] = fm.get_application(app_id).data.display_name
function = fm.get_function(fn_id).data
out["function"] = {
    "name": function.display_name,
    "memory": function.memory_in_mbs,
    "image": function.source_details.image,
    "digest": function.source_details.image_digest,
    "invoke_endpoint": function.invoke_endpoint,
}

invoke = oci.functions.FunctionsInvokeClient(config, service_endpoint=function.invoke_endpoint)
sync = invoke.invoke_function(fn_id, invoke_function_body=json.dumps({"name": "SDK"}))
out["sync"] = {"status": sync.status, "body": sync.data.text, "request_id": sync.headers.get("opc-request-id")}
detached = invoke.invoke_function(fn_id, invoke_function_body=json.dumps({"name": "later"}), fn_invoke_type="detached")
out["detached"] = detached.status

models = oci.apigateway.models
gateways = oci.apigateway.GatewayClient(config, service_endpoint=endpoint)
created = gateways.create_gateway(models.CreateGatewayDetails(
    compartment_id=tenancy, endpoint_type="PUBLIC", subnet_id="ocid1.subnet.fngate..none", display_name="sdk-gw"))
gateway = created.data
out["gateway"] = {"hostname": gateway.hostname, "state": gateway.lifecycle_state}
work = oci.apigateway.WorkRequestsClient(config, service_endpoint=endpoint)
out["gateway_work"] = work.get_work_request(created.headers["opc-work-request-id"]).data.status

deployments = oci.apigateway.DeploymentClient(config, service_endpoint=endpoint)
spec = {"routes": [{"path": "/hello", "methods": ["GET"], "backend": {
    "type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "stock"}}]}
made = []
for prefix in ["/sdk1", "/sdk2", "/sdk3"]:
    response = deployments.create_deployment(models.CreateDeploymentDetails(
        gateway_id=gateway.id, compartment_id=tenancy, path_prefix=prefix, specification=spec,
        display_name="sdk" + prefix[-1]))
    made.append(response.data)
out["deployment"] = {"endpoint": made[0].endpoint, "state": made[0].lifecycle_state,
                     "routes": [r.path for r in deployments.get_deployment(made[0].id).data.specification.routes]}
listed = oci.pagination.list_call_get_all_results(
    deployments.list_deployments, tenancy, gateway_id=gateway.id, limit=1).data
out["listed"] = sorted(d.display_name for d in listed)
for d in made[1:]:
    deleted = deployments.delete_deployment(d.id)
    out.setdefault("deleted_work", []).append(work.get_work_request(deleted.headers["opc-work-request-id"]).data.status)
out["deployment_id"] = made[0].id
out["gateway_id"] = gateway.id
print(json.dumps(out))
