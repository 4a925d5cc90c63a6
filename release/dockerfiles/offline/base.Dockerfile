# Offline stand-in for tt-metal's dockerfile/Dockerfile (stage ci-build): the same build arguments, no network,
# no shell. Used by the tests and the demo ([build] recipe = "offline").
ARG UBUNTU_VERSION=22.04
FROM scratch AS ci-build
ARG UBUNTU_VERSION
COPY README.txt /opt/tt-metal/README.txt
LABEL org.tenstorrent.release.kind="base" \
      org.tenstorrent.release.ubuntu-version="${UBUNTU_VERSION}"
