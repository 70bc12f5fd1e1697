"""The command line front end: ``shisaku index|serve|search|ask|mcp|…`` over the same core."""
