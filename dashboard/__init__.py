"""GenAI Scaling Lab dashboard: Streamlit pages that read the engine and never change it."""
