# JupyterHub config of the test harness (tests/support/hub.py), which sets every JH_HUB_* variable.
# Hub, proxy and single-user servers all listen on 127.0.0.1; containers use the host network.
import os

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)
env = os.environ
state = env["JH_HUB_STATE"]
host = "127.0.0.1"

c.JupyterHub.ip = host
c.JupyterHub.port = int(env["JH_HUB_PORT"])
c.JupyterHub.hub_ip = host
c.JupyterHub.hub_port = int(env["JH_HUB_API_PORT"])
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True  # SIGTERM stops (and so removes) the containers
c.JupyterHub.cleanup_proxy = True

c.ConfigurableHTTPProxy.command = [env["JH_HUB_CHP"]]
c.ConfigurableHTTPProxy.api_url = f"http://{host}:{env['JH_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = f"{state}/proxy.pid"  # the harness kills a leftover proxy by it

# Test-only login: any name and password.
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True

# The harness's admin token, as a service holding the admin role.
c.JupyterHub.services = [{"name": "jh-test-harness", "api_token": env["JH_HUB_ADMIN_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "admin", "services": ["jh-test-harness"]}]

c.JupyterHub.spawner_class = "tests.support.hub.HostNetworkDockerSpawner"
if env.get("JH_HUB_IMAGE"):
    c.DockerSpawner.image = env["JH_HUB_IMAGE"]
c.DockerSpawner.allowed_images = "*"  # the test names the image per spawn (user_options)
c.DockerSpawner.pull_policy = "never"  # local images only: no public registry is reachable
c.DockerSpawner.prefix = env["JH_HUB_CONTAINER_PREFIX"]
# The harness finds (and removes) its containers by these labels.
c.DockerSpawner.extra_create_kwargs = {
    "labels": {env["JH_HUB_LABEL"]: env["JH_HUB_ID"], env["JH_HUB_USER_LABEL"]: "{raw_username}"},
}
# Two shared cores: a cold server start can be slow.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
