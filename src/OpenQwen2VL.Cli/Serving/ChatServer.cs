using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// <c>oqvl serve</c>'s OpenAI-compatible HTTP server (Kestrel, minimal APIs): <c>GET /health</c>, <c>GET /v1/models</c>,
/// <c>POST /v1/chat/completions</c> (plain JSON or server-sent events). Requests are validated and their images
/// preprocessed on the request threads; decoding happens on the <see cref="GenerationWorker"/>. Refusals are OpenAI
/// error JSON; one log line per completion request.
/// </summary>
public sealed class ChatServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly LoadedVlm model;
    private readonly ServeSettings settings;

    public ServeSettings Settings => settings;
    private readonly Func<IReadOnlyList<ChatMessage>, long[]> promptIds;
    private readonly TextWriter log;
    private readonly ChatRequestParser parser;
    private readonly GenerationWorker worker;
    private readonly WebApplication app;
    private readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private long requests;

    /// <param name="promptIds">the model's prompt format: messages (with image placeholders) to prompt ids ending where the answer starts</param>
    public ChatServer(LoadedVlm model, ServeSettings settings, Func<IReadOnlyList<ChatMessage>, long[]> promptIds, TextWriter log)
    {
        this.model = model;
        this.settings = settings;
        this.promptIds = promptIds;
        this.log = TextWriter.Synchronized(log);
        parser = new ChatRequestParser(settings, model.Preprocessor);
        worker = new GenerationWorker(model, settings.MaxBatch, settings.MaxQueue);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = settings.MaxBodyBytes);
        builder.WebHost.UseUrls($"http://{settings.Host}:{settings.Port}");
        app = builder.Build();
        app.Use(Authorize);
        app.MapGet("/health", () => Results.Json(new { status = "ok", admitted = worker.Admitted, decoding = worker.Decoding }));
        app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = settings.ModelName, @object = "model", created, owned_by = "oqvl" } },
        }));
        app.MapPost("/v1/chat/completions", Complete);
    }

    /// <summary>Where it listens once started (the real port when <see cref="ServeSettings.Port"/> is 0).</summary>
    public IReadOnlyList<string> Urls => [.. app.Urls];

    public Task StartAsync() => app.StartAsync();

    /// <summary>Until the host is told to stop (SIGTERM, Ctrl+C).</summary>
    public Task WaitForShutdownAsync() => app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        worker.Dispose();
    }

    private async Task Authorize(HttpContext context, RequestDelegate next)
    {
        if (settings.ApiKey is { } key && context.Request.Path.StartsWithSegments("/v1")
            && context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
        {
            await Error(context, new ApiException(401, "invalid_api_key", "missing or wrong API key (Authorization: Bearer KEY)", "authentication_error")).ConfigureAwait(false);
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    private async Task Complete(HttpContext context)
    {
        string id = $"chatcmpl-{Interlocked.Increment(ref requests)}-{Guid.NewGuid():N}"[..24];
        var clock = Stopwatch.StartNew();
        int promptTokens = 0, completionTokens = 0;
        double firstToken = double.NaN;
        string outcome = "200";
        try
        {
            ChatRequest request;
            try
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
                request = parser.Parse(body.RootElement);
            }
            catch (JsonException e) { throw ApiException.BadRequest("invalid_json", $"the body is not valid JSON: {e.Message}"); }
            catch (BadHttpRequestException e) { throw new ApiException(e.StatusCode, e.StatusCode == 413 ? "body_too_large" : "bad_request", e.StatusCode == 413 ? $"the body is over {settings.MaxBodyBytes} bytes" : e.Message); }

            var ids = PromptIds(request);
            int context_ = model.Model.Config.Llm.MaxPositionEmbeddings;
            promptTokens = (int)model.Model.SplicedLength(ids);
            if (promptTokens >= context_)
                throw new ApiException(400, "context_length_exceeded", $"the prompt takes {promptTokens} tokens (images included); the model's context is {context_}");
            int maxTokens = Math.Min(request.MaxTokens ?? settings.DefaultMaxTokens, context_ - promptTokens);
            var pending = new PendingCompletion
            {
                PromptIds = ids, Images = request.Images, MaxTokens = maxTokens, Options = request.Options,
                Stop = new StopCriteria(model.StopTokenIds, request.Stop, Decode),
            };
            if (!worker.TryEnqueue(pending))
            {
                context.Response.Headers.RetryAfter = "1";
                throw new ApiException(429, "queue_full", $"the server is busy ({settings.MaxBatch} decoding, {settings.MaxQueue} waiting); retry later", "rate_limit_error");
            }
            using var gone = context.RequestAborted.Register(pending.Cancel);
            var text = new StreamingText(Decode, request.Stop);
            long lastId = -1;
            if (request.Stream)
            {
                context.Response.ContentType = "text/event-stream";
                context.Response.Headers.CacheControl = "no-cache";
                await Event(context, Chunk(id, new { role = "assistant", content = "" }, null)).ConfigureAwait(false);
                await foreach (long token in pending.Tokens.ReadAllAsync(context.RequestAborted).ConfigureAwait(false))
                {
                    if (completionTokens++ == 0) firstToken = clock.Elapsed.TotalMilliseconds;
                    lastId = token;
                    string piece = text.Add(token);
                    if (piece.Length > 0) await Event(context, Chunk(id, new { content = piece }, null)).ConfigureAwait(false);
                }
                string rest = text.Finish();
                if (rest.Length > 0) await Event(context, Chunk(id, new { content = rest }, null)).ConfigureAwait(false);
                await Event(context, Chunk(id, new { }, FinishReason(text, lastId, completionTokens))).ConfigureAwait(false);
                if (request.StreamUsage)
                    await Event(context, new { id, @object = "chat.completion.chunk", created = Now(), model = settings.ModelName, choices = Array.Empty<object>(), usage = Usage(promptTokens, completionTokens) }).ConfigureAwait(false);
                await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted).ConfigureAwait(false);
                return;
            }
            await foreach (long token in pending.Tokens.ReadAllAsync(context.RequestAborted).ConfigureAwait(false))
            {
                if (completionTokens++ == 0) firstToken = clock.Elapsed.TotalMilliseconds;
                lastId = token;
                text.Add(token);
            }
            text.Finish();
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created = Now(), model = settings.ModelName,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = text.Text }, finish_reason = FinishReason(text, lastId, completionTokens) } },
                usage = Usage(promptTokens, completionTokens),
            }, Json, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            outcome = e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!context.Response.HasStarted) await Error(context, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            outcome = "client gone";
        }
        catch (Exception e)
        {
            // A generation failure: the client gets a 500 error JSON, the log gets one line.
            outcome = $"500 ({e.GetType().Name}: {e.Message})";
            if (!context.Response.HasStarted)
                await Error(context, new ApiException(500, "internal_error", "generation failed; see the server log", "server_error")).ConfigureAwait(false);
        }
        finally
        {
            log.WriteLine($"{id} {outcome}: {promptTokens} tokens in, {completionTokens} out, first token {(double.IsNaN(firstToken) ? "-" : $"{firstToken:F0} ms")}, total {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
    }

    private long[] PromptIds(ChatRequest request)
    {
        try { return promptIds(request.Messages); }
        catch (CliUserException e) { throw ApiException.BadRequest("invalid_prompt", e.Message); }
    }

    private string Decode(IReadOnlyList<long> ids) => model.Tokenizer.Decode(ids.Select(i => (int)i).ToArray(), skipSpecial: true);

    private string FinishReason(StreamingText text, long lastId, int tokens) =>
        text.Stopped || model.StopTokenIds.Contains(lastId) || tokens == 0 ? "stop" : "length";

    private static object Usage(int prompt, int completion) => new { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion };

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private object Chunk(string id, object delta, string? finishReason) => new
    {
        id, @object = "chat.completion.chunk", created = Now(), model = settings.ModelName,
        choices = new[] { new { index = 0, delta, finish_reason = finishReason } },
    };

    private static async Task Event(HttpContext context, object payload)
    {
        var line = Encoding.UTF8.GetBytes($"data: {JsonSerializer.Serialize(payload, Json)}\n\n");
        await context.Response.Body.WriteAsync(line, context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static Task Error(HttpContext context, ApiException e)
    {
        context.Response.StatusCode = e.Status;
        return context.Response.WriteAsJsonAsync(new { error = new { message = e.Message, type = e.Type, code = e.Code } }, Json);
    }
}
