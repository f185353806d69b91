# SPDX-License-Identifier: MIT
# Stand-in model classes following the documented interface of the
# simple_acp gem's SimpleAcp::Models (attribute DSL, to_h that drops nil and
# writes Time with whole seconds, from_hash reading string or symbol keys
# and parsing times with Time.parse, Events.from_hash dispatching on type),
# so ServerStorage is tested against that shape without the gem.
require "time"
require "securerandom"

module StandIn
  module Models
    class Base
      def self.attribute(name, default: nil)
        own_attributes[name] = default
        attr_accessor name
      end

      def self.own_attributes
        @own_attributes ||= {}
      end

      def self.attributes
        parent = superclass.respond_to?(:attributes) ? superclass.attributes : {}
        parent.merge(own_attributes)
      end

      def self.from_hash(hash)
        return nil if hash.nil?

        obj = allocate
        attributes.each_key do |name|
          v = hash.key?(name.to_s) ? hash[name.to_s] : hash[name]
          obj.instance_variable_set(:"@#{name}", v)
        end
        obj
      end

      def self.read(hash, key)
        hash[key.to_s] || hash[key]
      end

      def self.parse_time(value)
        return nil if value.nil?
        return value if value.is_a?(Time)

        Time.parse(value.to_s)
      end

      def initialize(**kwargs)
        self.class.attributes.each do |name, default|
          v = kwargs.fetch(name) { default.is_a?(Proc) ? default.call : default }
          instance_variable_set(:"@#{name}", v)
        end
      end

      # As the gem: nil left out, Time with whole seconds.
      def to_h
        self.class.attributes.keys.each_with_object({}) do |name, h|
          v = public_send(name)
          h[name] = ser(v) unless v.nil?
        end
      end

      def ==(other)
        other.is_a?(self.class) && self.class.attributes.keys.all? { |n| public_send(n) == other.public_send(n) }
      end

      private

      def ser(v)
        case v
        when Base then v.to_h
        when Array then v.map { |x| ser(x) }
        when Hash then v.transform_values { |x| ser(x) }
        when Time then v.utc.iso8601
        else v
        end
      end
    end

    class MessagePart < Base
      attribute :name
      attribute :content_type
      attribute :content
      attribute :content_encoding, default: "plain"
      attribute :content_url
      attribute :metadata
    end

    class Message < Base
      attribute :role
      attribute :parts, default: -> { [] }
      attribute :created_at
      attribute :completed_at

      def self.from_hash(hash)
        return nil if hash.nil?

        new(role: read(hash, :role), created_at: parse_time(read(hash, :created_at)),
            completed_at: parse_time(read(hash, :completed_at)),
            parts: (read(hash, :parts) || []).map { |p| MessagePart.from_hash(p) })
      end
    end

    # Not a Base, as in the gem: to_h only.
    class Error
      attr_reader :code, :message, :data

      def initialize(code:, message:, data: nil)
        @code = code
        @message = message
        @data = data
      end

      def to_h
        h = { code: @code, message: @message }
        h[:data] = @data if @data
        h
      end

      def self.from_hash(hash)
        new(code: hash["code"] || hash[:code], message: hash["message"] || hash[:message],
            data: hash["data"] || hash[:data])
      end

      def ==(other)
        other.is_a?(Error) && to_h == other.to_h
      end
    end

    class Run < Base
      attribute :run_id
      attribute :agent_name
      attribute :session_id
      attribute :status, default: "created"
      attribute :await_request
      attribute :output, default: -> { [] }
      attribute :error
      attribute :created_at
      attribute :finished_at

      def initialize(**kwargs)
        super
        @run_id ||= SecureRandom.uuid
        @created_at ||= Time.now
      end

      def self.from_hash(hash)
        return nil if hash.nil?

        run = allocate
        run.run_id = read(hash, :run_id)
        run.agent_name = read(hash, :agent_name)
        run.session_id = read(hash, :session_id)
        run.status = read(hash, :status) || "created"
        run.created_at = parse_time(read(hash, :created_at))
        run.finished_at = parse_time(read(hash, :finished_at))
        run.output = (read(hash, :output) || []).map { |m| Message.from_hash(m) }
        run.error = read(hash, :error) && Error.from_hash(read(hash, :error))
        run.await_request = read(hash, :await_request)
        run
      end

      def complete!(output)
        @status = "completed"
        @output = output
        @finished_at = Time.now
        self
      end
    end

    class Session < Base
      attribute :id
      attribute :history, default: -> { [] }
      attribute :state

      def self.from_hash(hash)
        return nil if hash.nil?

        s = allocate
        s.id = read(hash, :id)
        s.state = read(hash, :state) # `||` as the gem: a stored false reads as nil
        s.history = (read(hash, :history) || []).map { |m| m.is_a?(Message) ? m : Message.from_hash(m) }
        s
      end
    end

    class Event < Base
      attribute :type
    end

    def self.event_class(type, *attrs, nested: {})
      Class.new(Event) do
        attrs.each { |a| attribute a }
        define_method(:initialize) do |**kw|
          kw[:type] = type
          super(**kw)
        end
        define_singleton_method(:from_hash) do |hash|
          obj = super(hash)
          nested.each do |attr, klass|
            v = read(hash, attr)
            obj.public_send(:"#{attr}=", klass.from_hash(v)) if v
          end
          obj
        end
      end
    end

    RunCreatedEvent = event_class("run.created", :run, nested: { run: Run })
    RunInProgressEvent = event_class("run.in-progress", :run_id)
    MessagePartEvent = event_class("message.part", :part, nested: { part: MessagePart })
    MessageCompletedEvent = event_class("message.completed", :message, nested: { message: Message })
    RunCompletedEvent = event_class("run.completed", :run, nested: { run: Run })
    RunFailedEvent = event_class("run.failed", :run_id, :error, nested: { error: Error })
    GenericEvent = event_class("generic", :data)

    module Events
      CLASSES = [RunCreatedEvent, RunInProgressEvent, MessagePartEvent, MessageCompletedEvent,
                 RunCompletedEvent, RunFailedEvent, GenericEvent].to_h { |k| [k.new.type, k] }

      def self.from_hash(hash)
        return nil if hash.nil?

        (CLASSES[hash["type"] || hash[:type]] || GenericEvent).from_hash(hash)
      end
    end
  end
end
