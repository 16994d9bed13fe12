# Local stand-in for denoland/deno:<version> where no registry can be reached. Built by
# ops/images/build.sh, which puts the host's Deno binary, exactly the shared libraries `ldd`
# lists for it, /etc/passwd and /etc/group (user deno, uid 1000), /etc/nsswitch.conf and /tmp
# (1777) into rootfs.tar. There is no shell: RUN, CMD and HEALTHCHECK must use the exec form.
#
# Like the official image: deno on PATH, user deno (uid 1000), DENO_DIR=/deno-dir/.
# Unlike it: the entrypoint is deno itself (the official one is tini + docker-entrypoint.sh, which
# also runs `deno <args>` when the first argument is a subcommand).
FROM scratch
# ADD unpacks the tarball keeping its owners and modes.
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    DENO_DIR=/deno-dir/ \
    DENO_INSTALL_ROOT=/usr/local \
    DENO_NO_UPDATE_CHECK=1
ENTRYPOINT ["deno"]
CMD ["--version"]
