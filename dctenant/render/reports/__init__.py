"""Auditors' reports rendered from one ``domain.reports.Report`` value: table cells, CSV, JSON, HTML.

One value, four writers: the formats cannot drift apart. CSV and JSON are stable machine
schemas (docs/reports.md) holding exact values; the table and HTML are for people, with
humanised amounts, the chosen calendar and right-to-left Persian names.
"""
