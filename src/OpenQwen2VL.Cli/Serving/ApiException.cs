namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// A request the server refuses: answered as OpenAI's error JSON <c>{"error": {"message", "type", "code"}}</c> with
/// <see cref="Status"/>, never with a stack trace.
/// </summary>
public sealed class ApiException(int status, string code, string message, string type = "invalid_request_error") : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string Type { get; } = type;

    public static ApiException BadRequest(string code, string message) => new(400, code, message);
}
