# copyguard: the proxy, sample rules baked in at /rules, listening on 0.0.0.0:8080.
# Configured like `copyguard serve` everywhere: COPYGUARD_<SETTING> environment variables
# (README.md, "copyguard serve").  Build: docker build -t copyguard .
# /metrics and /admin/reload are not served on 0.0.0.0:8080 (reachable from other machines):
# set COPYGUARD_ADMIN_LISTEN (compose and deploy/k8s use 0.0.0.0:8081) or COPYGUARD_ADMIN_TOKEN.
# Linted by hadolint and checkov in `make test`; built and run by `make image` / `make image-test`
# (docs/deploy.md).

# ---- build: install the package (wheels only) into a venv -------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/copyguard
WORKDIR /src
COPY pyproject.toml README.md ./
# proxy/sample_rules links to rules/: the samples are installed inside the package.
COPY rules ./rules
COPY proxy ./proxy
# The README's install step for use outside a checkout: pip install .
RUN /opt/copyguard/bin/pip install --no-cache-dir .

# ---- runtime: the venv, the rules, a non-root user; no compiler, no pip cache -----------
FROM python:3.11-slim
RUN groupadd --system --gid 10001 copyguard \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/copyguard \
       --create-home --shell /usr/sbin/nologin copyguard
COPY --from=build /opt/copyguard /opt/copyguard
COPY rules /rules
ENV PATH=/opt/copyguard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COPYGUARD_RULES=/rules \
    COPYGUARD_LISTEN=0.0.0.0:8080 \
    COPYGUARD_CACHE_DIR=/var/lib/copyguard/cache
USER 10001:10001
WORKDIR /var/lib/copyguard
EXPOSE 8080
# /healthz answers on the client listener (and on admin_listen when set): probe the port
# COPYGUARD_LISTEN gives at run time (a wildcard host is probed on loopback).
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h, _, p = os.environ.get('COPYGUARD_LISTEN', '0.0.0.0:8080').rpartition(':'); h = {'': '127.0.0.1', '0.0.0.0': '127.0.0.1', '::': '[::1]', '[::]': '[::1]'}.get(h, h); u.urlopen(f'http://{h}:{p}/healthz', timeout=2)"]
ENTRYPOINT ["copyguard", "serve"]
