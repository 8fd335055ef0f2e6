-- Run by the postgres image on first start only (an empty data volume): the Prefect server keeps its
-- state in its own database beside the application's. On an existing volume create it by hand:
--   docker compose -f docker/compose.yaml exec db psql -U carbon -d carbon -c 'CREATE DATABASE prefect'
CREATE DATABASE prefect;
