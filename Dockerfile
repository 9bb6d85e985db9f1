# tokenbot: one image for every role. Build: docker build -t tokenbot .
# Run: docker run --env-file .env tokenbot [up|relay|projector|worker|bot|api|migrate|ledger verify|...]

# ---- build ----------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# Dependencies first, against stub sources: this layer is rebuilt only when a manifest or
# Cargo.lock changes, not on every source edit.
COPY Cargo.toml Cargo.lock ./
COPY ledger/Cargo.toml ledger/
COPY texts/Cargo.toml texts/
COPY projections/Cargo.toml projections/
COPY api/Cargo.toml api/
COPY bot/Cargo.toml bot/
COPY worker/Cargo.toml worker/
COPY testkit/Cargo.toml testkit/
COPY fakes/openai/Cargo.toml fakes/openai/
COPY fakes/telegram/Cargo.toml fakes/telegram/
# --no-default-features: the production image has no `demo`/`bench`, so it links no fake
# Telegram or OpenAI and no test harness (the test and fake crates stay workspace members, so
# their manifests are copied, but nothing here builds them).
RUN mkdir -p src \
 && echo 'fn main() {}' > src/main.rs && : > src/lib.rs \
 && for crate in ledger projections api texts bot worker testkit fakes/openai fakes/telegram; do \
        mkdir -p "$crate/src" && : > "$crate/src/lib.rs"; \
    done \
 && cargo build --release --locked --no-default-features --bin tokenbot \
 && rm -rf src ledger/src projections/src api/src texts/src bot/src worker/src testkit/src fakes/openai/src fakes/telegram/src

# The real sources. COPY keeps the files' modification times, which can be older than the stub
# build, so touch them to make cargo rebuild the workspace crates.
COPY . .
# The commit, for the tokenbot_build_info metric (api/build.rs reads it): declared after the
# dependency layer so a new commit does not rebuild the dependencies.
#   docker build --build-arg TOKENBOT_GIT_SHA=$(git rev-parse HEAD) -t tokenbot .
ARG TOKENBOT_GIT_SHA=
RUN find src ledger projections api texts bot worker testkit fakes -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --no-default-features --bin tokenbot \
 && install -m 0755 target/release/tokenbot /usr/local/bin/tokenbot

# ---- run ------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tokenbot \
 && useradd --system --uid 10001 --gid tokenbot --home-dir /var/lib/tokenbot --create-home \
        --shell /usr/sbin/nologin tokenbot

COPY --from=builder /usr/local/bin/tokenbot /usr/local/bin/tokenbot

USER 10001:10001
WORKDIR /var/lib/tokenbot

# HTTP_ADDR (default 0.0.0.0:8000): /health, /metrics, /openapi.json in every role, the admin
# API in `api`/`up`, the Telegram webhook in `bot`/`up` when WEBHOOK_URL is set.
EXPOSE 8000

# `tokenbot health` asks this process's /health (no curl in the image); compose.yaml sets the
# same check per service with its own timings.
HEALTHCHECK --interval=15s --timeout=12s --start-period=30s --retries=3 CMD ["tokenbot", "health"]

ENTRYPOINT ["tokenbot"]
CMD ["up"]
