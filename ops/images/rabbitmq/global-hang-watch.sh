#!/bin/sh
# Gives a booting RabbitMQ 3.10.8 node the fix of rabbitmq-server#6046, which Debian bookworm's
# package lacks. Run by the entrypoint in the background; exits once the node has the watch.
#
# At boot, once its database is up, a member calls `global:sync()`. That call can block when a
# member comes back soon after it went (a drain, a killed node). RabbitMQ's "global hang
# workaround" then fakes a nodedown/nodeup between the two `global` servers to restart their
# sync, but 3.10.8 sends the messages in the format of Erlang before 25.1, which bookworm's Erlang
# 25.2 ignores ("global_name_server received an unexpected message"), and the boot never ends
# (rabbitmq-server#6034). Seen in most runs of the e2e:cluster test, and each time the member
# stayed stuck until its health check (member-health.sh) had Swarm replace it: about 4 minutes
# with a quorum replica offline.
#
# The watch is a process inside the node, named ml_global_hang_watch, living while the node boots
# (until RabbitMQ's boot state reaches `ready`). Every 10 s it looks at the sync `global` is
# waiting for; a peer whose sync has not moved in 10 s gets the nodedown/nodeup of #6046's fix,
# with the connection ids Erlang 25.1 and later expect, and a warning in the node's log. A node
# that boots normally never meets it. The health check stays as the last resort.
set -u

# The Erlang cookie first: the server writes it on its very first start.
tries=0
while [ ! -s "${HOME:-/var/lib/rabbitmq}/.erlang.cookie" ] && [ $tries -lt 60 ]; do
  sleep 1
  tries=$((tries + 1))
done

# Evaluated inside the node (rabbitmqctl eval): spawns the watch and says what it found.
watch='
Unblock = fun(Peer) ->
    This = node(),
    %% What global knows of a connection, as #6046 reads it from the server'"'"'s state.
    Cid = fun({status, _, _, [_, _, _, _, Misc]}, Node) ->
        [State] = [S || {data, [{"State", S}]} <- Misc],
        case element(3, State) of
            Known when is_map(Known) -> maps:get({connection_id, Node}, Known, undefined);
            _ -> undefined
        end
    end,
    Messages = fun(undefined, Node) -> {{nodedown, Node}, {nodeup, Node}};
                  (Id, Node) -> {{nodedown, Node, #{connection_id => Id}},
                                 {nodeup, Node, #{connection_id => Id}}}
               end,
    try
        {ThisDown, ThisUp} = Messages(Cid(sys:get_status(global_name_server, 5000), Peer), Peer),
        {PeerDown, PeerUp} =
            Messages(Cid(erpc:call(Peer, sys, get_status, [global_name_server, 5000], 6000), This),
                     This),
        logger:warning("ml global hang watch: global:sync with ~s has not moved in 10 s; "
                       "faking nodedown/nodeup with connection ids (rabbitmq-server#6046)", [Peer]),
        {global_name_server, This} ! ThisDown,
        {global_name_server, Peer} ! PeerDown,
        {global_name_server, This} ! ThisUp,
        {global_name_server, Peer} ! PeerUp
    catch Class:Reason ->
        logger:warning("ml global hang watch: could not unblock ~s: ~p:~p", [Peer, Class, Reason])
    end
end,
Tags = fun() ->
    try sys:get_status(global_name_server, 5000) of
        {status, _, _, [Dict | _]} -> [E || {{sync_tag_his, _}, _} = E <- Dict]
    catch _:_ -> []
    end
end,
Watch = fun Loop(Before) ->
    case rabbit_boot_state:has_reached(ready) of
        true -> ok;
        false ->
            Now = Tags(),
            [Unblock(Peer) || {{sync_tag_his, Peer}, _} = E <- Now, lists:member(E, Before)],
            timer:sleep(10000),
            Loop(Now)
    end
end,
case {whereis(ml_global_hang_watch), rabbit_boot_state:has_reached(ready)} of
    {_, true} -> booted;
    {Pid, _} when is_pid(Pid) -> already_watching;
    _ ->
        Self = self(),
        Pid = spawn(fun() ->
            %% Not the CLI'"'"'s group leader: the CLI node leaves right after.
            case whereis(user) of undefined -> ok; User -> group_leader(User, self()) end,
            true = register(ml_global_hang_watch, self()),
            Self ! {self(), registered},
            Watch([])
        end),
        receive {Pid, registered} -> watching after 5000 -> not_started end
end.'

# The node answers once its distribution is up, well before the database: try for 2 minutes.
tries=0
until said=$(rabbitmqctl -q -t 20 eval "$watch" 2>/dev/null); do
  tries=$((tries + 1))
  if [ $tries -ge 60 ]; then
    echo "ml-global-hang-watch: the node did not answer; no watch for a blocked global:sync" >&2
    exit 1
  fi
  sleep 2
done
case $said in
  watching) echo "ml-global-hang-watch: watching the boot for a blocked global:sync" >&2 ;;
  booted | already_watching) ;;
  *) echo "ml-global-hang-watch: unexpected answer: $said" >&2 ;;
esac
