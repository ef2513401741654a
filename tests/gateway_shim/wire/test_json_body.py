import pytest

from gateway_shim.wire.json_body import NotAJsonObject, json_object


@pytest.mark.parametrize("data", [b'{"model": "m", "n": [1, 2]}', '{"model": "m", "n": [1, 2]}'])
def test_an_object_is_returned_as_decoded_from_bytes_or_text(data: bytes | str) -> None:
    assert json_object(data) == {"model": "m", "n": [1, 2]}


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "empty; expected a JSON object"),
    ("", "empty; expected a JSON object"),
    (b"{not json", "not JSON: "),
    (b"[1, 2]", "not a JSON object"),
    (b"null", "not a JSON object"),
    (b'"text"', "not a JSON object"),
])
def test_every_other_input_is_refused_naming_the_problem(data: bytes | str, problem: str) -> None:
    with pytest.raises(NotAJsonObject) as refused:
        json_object(data)
    assert str(refused.value).startswith(problem)
