"""Application-layer wiring: builds the store and the northbound servers from settings.

The layers below (engine, server core, service layer, northbound) take their options as
arguments; only this package, the daemon, the CLI, the demo and the benches read
`controller.settings`.
"""
