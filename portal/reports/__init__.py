"""Reports: KPI queries and Plotly figure builders shared by the dashboards."""
