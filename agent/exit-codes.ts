// Process exit codes, shared by the commands and named for service managers (a systemd unit
// should not restart on EXIT_CONFIG: RestartPreventExitStatus=78).
export const EXIT_OK = 0
export const EXIT_USAGE = 2
/** Bad configuration, refused registration, or the server revoked this agent's token. */
export const EXIT_CONFIG = 78
