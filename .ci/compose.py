#!/usr/bin/env python3
"""What compose.yaml promises an operator, checked on the file as the compose tool resolves it.

Usage: compose.py <resolved.yml>, the output of `docker-compose config` run with a distinct
dummy value for every secret. Checks:

- no service reads an env_file (secrets go only where they are needed);
- each secret's value reaches only the services that read it;
- published ports bind to 127.0.0.1 by default;
- every long-running tokenbot service has the `tokenbot health` check, and `migrate` none;
- NATS runs with the config file that sets its durability.

Exit status 0 when all holds, 1 with one line per problem otherwise.
"""

import sys

import yaml

# The dummy value .ci/run gives each secret, and the services allowed to see it.
SECRETS = {
    "ci-postgres-password": {"postgres", "migrate", "all-in-one"},
    "ci-openai-key": {"worker", "all-in-one"},
    "ci-bot-token": {"bot", "worker", "all-in-one"},
    "ci-admin-key-0123456789": {"api", "all-in-one"},
    "ci-admin-keys": {"api", "all-in-one"},
    "ci-signing-key": {"relay", "all-in-one"},
    "ci-webhook-secret": {"bot", "all-in-one"},
}
LONG_RUNNING = {"relay", "projector", "worker", "bot", "api", "all-in-one"}


def values(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        return [e.split("=", 1)[-1] for e in env]
    return [str(v) for v in env.values() if v is not None]


def main(path):
    with open(path) as f:
        services = yaml.safe_load(f)["services"]
    problems = []
    for name, s in services.items():
        if s.get("env_file"):
            problems.append(f"{name}: reads an env_file; give it only the variables it needs")
        seen = " ".join(values(s))
        for secret, allowed in SECRETS.items():
            if secret in seen and name not in allowed:
                problems.append(f"{name}: sees the secret {secret!r}, which only {sorted(allowed)} read")
        for port in s.get("ports") or []:
            published = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}"
            if not str(published).startswith("127.0.0.1:"):
                problems.append(f"{name}: publishes {published} beyond loopback by default")
        check = (s.get("healthcheck") or {}).get("test")
        if name in LONG_RUNNING and check != ["CMD", "tokenbot", "health"]:
            problems.append(f"{name}: health check is {check}, not tokenbot health")
        if name == "migrate" and check not in (None, ["NONE"]):
            problems.append(f"migrate: a one-shot service needs no health check, has {check}")
    for secret, allowed in SECRETS.items():
        for name in allowed:
            if name in services and secret not in " ".join(values(services[name])):
                problems.append(f"{name}: does not get the secret {secret!r} it reads")
    if "/etc/nats/nats.conf" not in " ".join(services["nats"].get("command") or []):
        problems.append("nats: not started with deploy/nats/nats.conf (its durability setting)")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"compose: {len(services)} services; secrets, ports and health checks as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
