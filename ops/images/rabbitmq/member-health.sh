#!/bin/sh
# Health check of a cluster member (docker-stack.cluster.yml; a broker alone keeps `ping`).
#
# Healthy: the rabbit app runs, or the node is up and waiting as it should: a blank member waiting
# to join (rabbitmq-join.conf: up to 2 h), a member waiting for its peers' tables after a whole
# cluster stopped, a member an operator stopped with `rabbitmqctl stop_app`. None of these is in a
# peer's database yet.
#
# Unhealthy: stuck at boot. A peer counts this member among its running database nodes (it joined),
# yet its rabbit app never finishes booting. RabbitMQ 3.10.8 on Erlang 25.1 or later does this when
# a member comes back soon after it went (rabbitmq-server#6034: the boot's "global hang
# workaround" sends Erlang's `global` messages it no longer handles, logged as "Faking
# nodedown/nodeup" then "global_name_server received an unexpected message", and `global:sync`
# never returns; fixed in later releases by rabbitmq-server#6046). The image's watch
# (global-hang-watch.sh) gives a booting member that fix; should a member stay stuck all the same,
# its quorum replicas offline, it is unhealthy, Swarm replaces its task, and the next boot, against
# peers that have seen it go, goes through. A peer lists a normal boot as running for a few
# seconds before its app is up, far less than the retries × interval of docker-stack.cluster.yml.
set -u

rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && exit 0
# The node itself does not answer: unhealthy after the start period, as with `ping`.
rabbitmq-diagnostics -q ping >/dev/null 2>&1 || {
  echo "the node does not answer ping"
  exit 1
}
# Asked of this node, which is connected to its peers: does any of them count it as running?
counted=$(rabbitmqctl -q -t 8 eval '
  Self = node(),
  lists:any(fun(Peer) ->
      case rpc:call(Peer, rabbit_mnesia, cluster_nodes, [running], 3000) of
          Running when is_list(Running) -> lists:member(Self, Running);
          _ -> false
      end
  end, nodes()).' 2>/dev/null)
if [ "$counted" = true ]; then
  echo "stuck at boot: a peer counts this member as running, but its rabbit app is not"
  exit 1
fi
exit 0
