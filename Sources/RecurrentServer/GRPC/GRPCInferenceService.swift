import Foundation
import GRPCCore

/// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, as KServe and Triton
/// define it): the REST routes' models, executor, sessions, batching and metrics, reached
/// through protobuf messages. Errors are gRPC statuses with the same one-line messages the REST
/// routes send (400 -> INVALID_ARGUMENT, 404 -> NOT_FOUND, 413 and 429 -> RESOURCE_EXHAUSTED,
/// 5xx -> INTERNAL).
struct GRPCInferenceService: Inference_GRPCInferenceService.SimpleServiceProtocol {
    let server: ModelServer

    func serverLive(request: Inference_ServerLiveRequest, context: ServerContext) async throws -> Inference_ServerLiveResponse {
        .with { $0.live = true }
    }

    func serverReady(request: Inference_ServerReadyRequest, context: ServerContext) async throws -> Inference_ServerReadyResponse {
        .with { $0.ready = true }
    }

    func modelReady(request: Inference_ModelReadyRequest, context: ServerContext) async throws -> Inference_ModelReadyResponse {
        _ = try model(request.name, version: request.version)
        return .with { $0.ready = true }
    }

    func serverMetadata(request: Inference_ServerMetadataRequest, context: ServerContext) async throws -> Inference_ServerMetadataResponse {
        .with {
            $0.name = "recurrent"
            $0.version = "1"
            $0.extensions = Routes.extensions
        }
    }

    func modelMetadata(request: Inference_ModelMetadataRequest, context: ServerContext) async throws -> Inference_ModelMetadataResponse {
        let model = try model(request.name, version: request.version)
        func tensors(_ signatures: [TensorSignatureDescription]) -> [Inference_ModelMetadataResponse.TensorMetadata] {
            signatures.map { signature in
                .with {
                    $0.name = signature.name
                    $0.datatype = signature.datatype
                    $0.shape = signature.shape.map(Int64.init)
                }
            }
        }
        return .with {
            $0.name = model.name
            $0.versions = ["1"]
            $0.platform = "recurrent"
            $0.inputs = tensors(model.inputs)
            $0.outputs = tensors(model.outputs)
        }
    }

    func modelInfer(request: Inference_ModelInferRequest, context: ServerContext) async throws -> Inference_ModelInferResponse {
        do {
            return try await infer(request)
        } catch {
            throw Self.status(error)
        }
    }

    /// Triton's streamed inference, which its clients use for sequences: each request on the
    /// stream is answered in order, a refused one by a message naming why, and the stream goes on.
    func modelStreamInfer(request: RPCAsyncSequence<Inference_ModelInferRequest, any Error>,
                          response: RPCWriter<Inference_ModelStreamInferResponse>, context: ServerContext) async throws {
        for try await message in request {
            do {
                let answer = try await infer(message)
                try await response.write(.with { $0.inferResponse = answer })
            } catch let error as ServerError {
                try await response.write(.with {
                    $0.errorMessage = error.message
                    $0.inferResponse = .with { reply in
                        reply.modelName = message.modelName
                        reply.id = message.id
                    }
                })
            }
        }
    }

    func repositoryIndex(request: Inference_RepositoryIndexRequest, context: ServerContext) async throws -> Inference_RepositoryIndexResponse {
        .with {
            $0.models = server.modelOrder.map { name in
                .with {
                    $0.name = name
                    $0.version = "1"
                    $0.state = "READY"
                }
            }
        }
    }

    // MARK: - Shared with the REST routes

    func model(_ name: String, version: String) throws -> ServedModel {
        do {
            return try server.model(name, version: version)
        } catch let error as ServerError {
            throw Self.status(error)
        }
    }

    /// One request through `Inference.run`, counted and timed under the model like a REST
    /// request; a refusal comes back as a `ServerError`.
    func infer(_ message: Inference_ModelInferRequest) async throws(ServerError) -> Inference_ModelInferResponse {
        let started = ModelExecutor.now()
        let model: ServedModel
        do {
            model = try server.model(message.modelName, version: message.modelVersion)
        } catch {
            throw ModelExecutor.serverError(error)
        }
        do {
            let request = try InferenceRequest(message)
            let response = try await Inference.run(model, request: request, executor: server.executor)
            server.metrics.request(model: model.name, endpoint: "infer", outcome: "success", seconds: ModelExecutor.now() - started)
            return response.message
        } catch {
            let failure = ModelExecutor.serverError(error)
            server.metrics.request(model: model.name, endpoint: "infer", outcome: failure.outcome, seconds: ModelExecutor.now() - started)
            throw failure
        }
    }

    static func status(_ error: ServerError) -> RPCError {
        let code: RPCError.Code
        switch error.status {
        case 404: code = .notFound
        case 413, 429: code = .resourceExhausted
        case 400..<500: code = .invalidArgument
        default: code = .internalError
        }
        return RPCError(code: code, message: error.message)
    }
}
