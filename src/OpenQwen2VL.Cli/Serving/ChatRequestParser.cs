using System.Text.Json;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// Reads an OpenAI chat completion body into a <see cref="ChatRequest"/>, refusing anything out of range with an
/// <see cref="ApiException"/> that names the field. Images come as <c>image_url</c> parts: <c>data:</c> URLs with base64
/// (or <c>file://</c> paths when allowed); each becomes an image placeholder where it stands in its message.
/// </summary>
public sealed class ChatRequestParser(ServeSettings settings, ImagePreprocessor preprocessor)
{
    public ChatRequest Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("invalid_request", "the body must be a JSON object");
        if (root.TryGetProperty("model", out var model))
        {
            if (model.ValueKind != JsonValueKind.String) throw Invalid("model", "must be a string");
            string name = model.GetString()!;
            if (name != settings.ModelName && name != "any")
                throw new ApiException(404, "model_not_found", $"the model '{name}' does not exist; this server serves '{settings.ModelName}' (or ask for 'any')");
        }
        if (root.TryGetProperty("n", out var n) && !(n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out int count) && count == 1))
            throw Invalid("n", "only 1 choice per request is supported");
        var images = new List<float[]>();
        var messages = Messages(root, images);

        int? maxTokens = null;
        foreach (var field in new[] { "max_tokens", "max_completion_tokens" })
            if (root.TryGetProperty(field, out var m) && m.ValueKind != JsonValueKind.Null)
            {
                if (!(m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out int v) && v >= 1)) throw Invalid(field, "must be an integer >= 1");
                maxTokens = v;
            }
        double temperature = Number(root, "temperature", 1.0, 0, 2, minExclusive: false);
        double topP = Number(root, "top_p", 1.0, 0, 1, minExclusive: true);
        long? seed = null;
        if (root.TryGetProperty("seed", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (!(s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long sv))) throw Invalid("seed", "must be an integer");
            seed = sv;
        }
        bool stream = Bool(root, "stream");
        bool streamUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && Bool(so, "include_usage");
        return new ChatRequest
        {
            Messages = messages, Images = images, MaxTokens = maxTokens, Stop = Stops(root), Stream = stream, StreamUsage = streamUsage,
            // Temperature 0 is OpenAI's greedy decoding.
            Options = temperature == 0
                ? new GenerationOptions()
                : new GenerationOptions { Sample = true, Temperature = temperature, TopP = topP, Seed = seed },
        };
    }

    List<ChatMessage> Messages(JsonElement root, List<float[]> images)
    {
        if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw Invalid("messages", "must be a non-empty array");
        var messages = new List<ChatMessage>();
        foreach (var message in list.EnumerateArray())
        {
            int index = messages.Count;
            if (message.ValueKind != JsonValueKind.Object) throw Invalid($"messages[{index}]", "must be an object");
            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            var chatRole = role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                _ => throw Invalid($"messages[{index}].role", "must be system, user or assistant"),
            };
            if (!message.TryGetProperty("content", out var content)) throw Invalid($"messages[{index}].content", "is missing");
            string text = content.ValueKind switch
            {
                JsonValueKind.String => Text(content.GetString()!, $"messages[{index}].content"),
                JsonValueKind.Array => Parts(content, index, chatRole, images),
                _ => throw Invalid($"messages[{index}].content", "must be a string or an array of parts"),
            };
            messages.Add(new ChatMessage(chatRole, text));
        }
        return messages;
    }

    string Parts(JsonElement parts, int index, ChatRole role, List<float[]> images)
    {
        var text = new System.Text.StringBuilder();
        int p = 0;
        foreach (var part in parts.EnumerateArray())
        {
            string where = $"messages[{index}].content[{p++}]";
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type == "text")
            {
                if (!part.TryGetProperty("text", out var tx) || tx.ValueKind != JsonValueKind.String) throw Invalid($"{where}.text", "must be a string");
                text.Append(Text(tx.GetString()!, $"{where}.text"));
            }
            else if (type == "image_url")
            {
                if (role != ChatRole.User) throw Invalid(where, "images go in user messages only");
                if (images.Count == settings.MaxImages) throw new ApiException(400, "too_many_images", $"{where}: at most {settings.MaxImages} images per request");
                var url = part.TryGetProperty("image_url", out var iu) ? iu.ValueKind switch
                {
                    JsonValueKind.String => iu.GetString(),
                    JsonValueKind.Object when iu.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String => u.GetString(),
                    _ => null,
                } : null;
                if (url is null) throw Invalid($"{where}.image_url", "needs a url");
                images.Add(Image(ImageBytes(url, where), where));
                // Where the image stands in the text, as `generate` lays images out ("<image>\n" then the text).
                text.Append(MultimodalTokens.ImagePlaceholder).Append('\n');
            }
            else throw Invalid($"{where}.type", "must be text or image_url");
        }
        return text.ToString();
    }

    byte[] ImageBytes(string url, string where)
    {
        long max = settings.ImageLimits.MaxBytes;
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = url.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || !url.AsSpan(0, comma).EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
                throw new ApiException(400, "invalid_image", $"{where}: a data: URL must be base64 (data:image/...;base64,...)");
            var payload = url.AsSpan(comma + 1);
            if ((long)payload.Length / 4 * 3 > max + 3)
                throw new ApiException(413, "image_too_large", $"{where}: the image is over {max} bytes");
            var bytes = new byte[payload.Length / 4 * 3 + 3];
            if (!Convert.TryFromBase64Chars(payload, bytes, out int written))
                throw new ApiException(400, "invalid_image", $"{where}: the data: URL is not valid base64");
            return bytes[..written];
        }
        if (url.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            if (!settings.AllowLocalFiles) throw new ApiException(400, "local_files_disabled", $"{where}: file:// images need the server's --allow-local-files");
            string path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.LocalPath : url["file://".Length..];
            var info = new FileInfo(path);
            if (!info.Exists) throw new ApiException(400, "invalid_image", $"{where}: no such file {path}");
            if (info.Length > max) throw new ApiException(413, "image_too_large", $"{where}: the image is over {max} bytes");
            return File.ReadAllBytes(path);
        }
        throw new ApiException(400, "invalid_image", $"{where}: only data: URLs (base64) are accepted" + (settings.AllowLocalFiles ? " (and file:// paths)" : ""));
    }

    float[] Image(byte[] bytes, string where)
    {
        if (bytes.Length > settings.ImageLimits.MaxBytes)
            throw new ApiException(413, "image_too_large", $"{where}: the image is over {settings.ImageLimits.MaxBytes} bytes");
        var pixels = new float[preprocessor.OutputLength];
        if (!preprocessor.TryPreprocess(bytes, settings.ImageLimits, pixels, out var reason))
            throw new ApiException(400, "invalid_image", $"{where}: cannot use the image: {reason}");
        return pixels;
    }

    static string Text(string text, string where) =>
        text.Contains(MultimodalTokens.ImagePlaceholder, StringComparison.Ordinal)
            ? throw Invalid(where, $"text may not contain {MultimodalTokens.ImagePlaceholder}; send images as image_url parts")
            : text;

    static IReadOnlyList<string> Stops(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        var stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => stop.EnumerateArray().Select(e => e.GetString()!).ToArray(),
            _ => throw Invalid("stop", "must be a string or an array of strings"),
        };
        if (stops.Length > 4 || stops.Any(s => s.Length == 0)) throw Invalid("stop", "at most 4 non-empty strings");
        return stops;
    }

    static double Number(JsonElement root, string field, double fallback, double min, double max, bool minExclusive)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) return fallback;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || v > max || v < min || (minExclusive && v == min))
            throw Invalid(field, $"must be a number in {(minExclusive ? "(" : "[")}{min}, {max}]");
        return v;
    }

    static bool Bool(JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) return false;
        return e.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Invalid(field, "must be true or false") };
    }

    static ApiException Invalid(string field, string problem) => new(400, "invalid_value", $"{field}: {problem}");
}
