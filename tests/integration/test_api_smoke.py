def test_token_then_market(editor):
    response = editor.create_market()
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["configuration_url"].startswith("http://localhost/buyer/public_markets/VR-")
