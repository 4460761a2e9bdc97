"""The qcNOC web console: a browser app served by the RESTCONF HTTP server under
/console, behind the same authentication, reading and acting only through the standard
interfaces (RESTCONF data and operations, the SSE event stream) so NACM applies as
everywhere else."""
