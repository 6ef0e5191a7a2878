from kedro.pipeline import Pipeline, node

from slmops.pipelines.ingest.nodes import validate_records


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([node(validate_records, ["raw_records", "params:data", "params:template", "raw_validation_records",
                                             "raw_test_records"], "records", name="validate_records")])
