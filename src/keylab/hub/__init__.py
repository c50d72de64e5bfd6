"""keylab on JupyterHub and Binder: the JupyterLab launcher entry that opens the sandbox's dashboard
(and `/v1`) through the notebook server's proxy, under `/user/NAME/keylab/`."""
