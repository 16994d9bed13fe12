#!/bin/sh
# Entrypoint of the Swarm node image: removes what a killed engine leaves behind (its pid files
# make a restarted dockerd or containerd exit at once), then runs the command (dockerd and its
# flags) as PID 1.
set -eu
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid \
  /run/docker/containerd/containerd.pid
exec "$@"
